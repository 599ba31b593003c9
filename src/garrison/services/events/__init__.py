"""Amazon EventBridge's API over Garrison's event bus (`garrison.events`): rules with
AWS event patterns, targets, connections, API destinations, PutEvents,
TestEventPattern. The matching, the outbox and delivery live in `garrison.events`;
this package validates, authorises and answers the API calls.
"""
