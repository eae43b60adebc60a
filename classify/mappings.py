"""How the public corpora's own labels become triage labels (topic, complaint, priority).

Each mapping follows the label policy of the triage guidelines (classify/data/README.md): a
specific money movement is ``billing``; a card or app that does not work, or a lost, stolen or
compromised card, is ``product_issue``; a card not yet delivered is ``service_issue``; general
questions are ``inquiry``. Priorities: a payment the customer did not make, a compromised card
or a transfer to stop is ``urgent``; a blocked service or money lost through an error is
``high``; a pending movement or an own-account question is ``medium``; general information is
``low``.
"""

from __future__ import annotations

import re

# intent -> (topic, complaint, priority)
_B77: dict[str, tuple[str, str, str]] = {}
for _names, _value in (
    (
        "age_limit apple_pay_or_google_pay card_acceptance card_delivery_estimate "
        "country_support disposable_card_limits exchange_rate exchange_via_app "
        "fiat_currency_support get_disposable_virtual_card get_physical_card getting_spare_card "
        "getting_virtual_card order_physical_card receiving_money supported_cards_and_currencies "
        "top_up_by_cash_or_cheque top_up_limits topping_up_by_card visa_or_mastercard "
        "why_verify_identity automatic_top_up verify_source_of_funds transfer_timing atm_support "
        "card_about_to_expire card_linking verify_top_up",
        ("inquiry", "no", "low"),
    ),
    (
        "activate_my_card change_pin edit_personal_details passcode_forgotten "
        "verify_my_identity terminate_account",
        ("inquiry", "no", "medium"),
    ),
    (
        "card_not_working card_swallowed contactless_not_working declined_card_payment "
        "declined_cash_withdrawal pin_blocked virtual_card_not_working lost_or_stolen_phone",
        ("product_issue", "yes", "high"),
    ),
    ("unable_to_verify_identity beneficiary_not_allowed", ("product_issue", "yes", "medium")),
    ("compromised_card lost_or_stolen_card", ("product_issue", "no", "urgent")),
    ("card_arrival", ("service_issue", "yes", "medium")),
    (
        "card_payment_not_recognised direct_debit_payment_not_recognised",
        ("billing", "yes", "urgent"),
    ),
    ("cancel_transfer", ("billing", "no", "urgent")),
    (
        "transaction_charged_twice wrong_amount_of_cash_received cash_withdrawal_not_recognised "
        "extra_charge_on_statement card_payment_wrong_exchange_rate "
        "wrong_exchange_rate_for_cash_withdrawal failed_transfer declined_transfer "
        "top_up_failed top_up_reverted transfer_not_received_by_recipient "
        "balance_not_updated_after_bank_transfer balance_not_updated_after_cheque_or_cash_deposit",
        ("billing", "yes", "high"),
    ),
    (
        "card_payment_fee_charged cash_withdrawal_charge exchange_charge transfer_fee_charged "
        "Refund_not_showing_up reverted_card_payment?",
        ("billing", "yes", "medium"),
    ),
    (
        "pending_card_payment pending_cash_withdrawal pending_top_up pending_transfer "
        "request_refund transfer_into_account",
        ("billing", "no", "medium"),
    ),
    # "Is there a fee for topping up by card?": general product information, no money moved
    ("top_up_by_bank_transfer_charge top_up_by_card_charge", ("inquiry", "no", "low")),
):
    for _name in _names.split():
        _B77[_name] = _value

BANKING77: dict[str, tuple[str, str, str]] = dict(_B77)

# CFPB "Issue" -> topic. Wrong entries about money owed (a debt, a balance, a late mark, a hard
# inquiry) and everything about debt collection are billing; a company that did not
# investigate, answer or handle the account is service_issue. Issues not listed are billing
# (the commonest reading of a money complaint).
CFPB_SERVICE_ISSUES = frozenset(
    {
        "Problem with a credit reporting company's investigation into an existing problem",
        "Problem with a company's investigation into an existing issue",
        "Problem with fraud alerts or security freezes",
        "Unable to get your credit report or credit score",
        "Credit monitoring or identity theft protection services",
        "Identity theft protection or other monitoring services",
        "Dealing with your lender or servicer",
        "Managing an account",
        "Closing an account",
        "Closing your account",
        "Opening an account",
        "Problem with customer service",
        "Other service problem",
        "Managing, opening, or closing your mobile wallet account",
        "Advertising and marketing, including promotional offers",
    }
)
CFPB_PRODUCT_ISSUES = frozenset({"Trouble using your card", "Other features, terms, or problems"})
# Requests at the start of a relationship need a reply but block nothing yet.
CFPB_MEDIUM_ISSUES = frozenset(
    {
        "Applying for a mortgage or refinancing an existing mortgage",
        "Getting a loan or lease",
        "Getting the loan",
        "Getting a credit card",
        "Shopping for a loan or lease",
        "Advertising and marketing, including promotional offers",
        "Opening an account",
        "Confusing or missing disclosures",
    }
)


def cfpb_labels(issue: str) -> tuple[str, str]:
    """(topic, priority) of a CFPB narrative; every narrative is a complaint."""
    if issue in CFPB_SERVICE_ISSUES:
        topic = "service_issue"
    elif issue in CFPB_PRODUCT_ISSUES:
        topic = "product_issue"
    else:
        topic = "billing"
    return topic, "medium" if issue in CFPB_MEDIUM_ISSUES else "high"


# Negative review lines get a topic from the aspect they name: staff, delivery and after-sales
# are service; price and value are billing; anything else is the product itself.
_SERVICE = re.compile(
    r"\b(service|staff|waiter|waitress|server|manager|rude|wait(?:ed|ing)?|delivery|deliver(?:ed)?|"
    r"shipping|shipped|customer support|support|return(?:ed)?|exchange|warranty|host|hostess)\b|"
    r"服务|前台|态度|客服|服务员|快递|物流|送货|发货|配送|售后|退货|换货|店家|卖家|商家"
)
_BILLING = re.compile(
    r"\b(price[sd]?|overpriced|expensive|money|refund|charged?|bill|cost|pay|paid)\b|"
    r"价格|价钱|太贵|性价比|收费|退款|发票|不值|贵了"
)


def review_topic(text: str, negative: bool) -> str:
    """Praise is ``other`` (nothing to act on); criticism takes the aspect it names."""
    if not negative:
        return "other"
    folded = text.casefold()
    if _SERVICE.search(folded):
        return "service_issue"
    if _BILLING.search(folded):
        return "billing"
    return "product_issue"
