"""Hand-written event pattern / event pairs with the match result AWS documents.

Every pair is taken from an example in AWS's documentation (or follows a rule it
states in words) and its expected result is the one the page gives -- a literal,
never computed by the matcher. The comment above each case names its source:

  [EP]    EventBridge User Guide, "Amazon EventBridge event patterns" (and
          "Event pattern syntax": matching values, multiple values, nesting)
  [CF]    "Content filtering in Amazon EventBridge event patterns" (prefix,
          suffix, anything-but, numeric, IP address, exists, complex example)
  [OPS]   "Comparison operators for use in event patterns in Amazon EventBridge"
          (the operator table and its sections: equals-ignore-case, wildcard,
          anything-but forms, $or)
  [ARR]   "Arrays in Amazon EventBridge event patterns"
  [NULL]  "Matching null values and empty strings in Amazon EventBridge event patterns"
  [RULER] aws/event-ruler README -- the open-source engine EventBridge runs;
          cited only where the User Guide states the rule without an example
          (array-consistent matching, $or shapes)

`CASES` is a list of ``(name, pattern_json_text, event_dict, expected_bool)``;
each event is a whole EventBridge envelope (what TestEventPattern takes). Every
case puts what it tests in ``source``, ``detail-type``, ``resources``, ``time``
or ``detail`` -- the fields PutEvents lets a caller set -- so the same pairs can
be driven through real delivery; ``account`` and ``region`` are the test
account's (tests/conftest.py). `INVALID` lists patterns EventBridge refuses,
each with the reason its InvalidEventPatternException gives.

Used by tests/services/events/test_patterns.py and the event bus's e2e tests
(``from tests.services.events.pattern_cases import CASES``).
"""

# ruff: noqa: E501  (one case per line reads better than a wrapped table)

from __future__ import annotations

from typing import Any, NamedTuple

from tests.conftest import ACCOUNT_ID, REGION


class Case(NamedTuple):
    name: str
    pattern: str
    event: dict[str, Any]
    expected: bool


def envelope(
    detail: dict[str, Any] | None = None,
    *,
    source: str = "com.example.app",
    detail_type: str = "Example Event",
    resources: list[str] | None = None,
    time: str = "2017-12-22T18:43:48Z",
) -> dict[str, Any]:
    """A full event envelope, as EventBridge hands it to rules."""
    return {
        "version": "0",
        "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
        "detail-type": detail_type,
        "source": source,
        "account": ACCOUNT_ID,
        "time": time,
        "region": REGION,
        "resources": resources if resources is not None else [],
        "detail": detail if detail is not None else {},
    }


# [EP] the EC2 instance-termination example of the "Amazon EventBridge event patterns" page
EC2_TERMINATED = envelope(
    {"instance-id": "i-1234567890abcdef0", "state": "terminated"},
    source="aws.ec2",
    detail_type="EC2 Instance State-change Notification",
    resources=["arn:aws:ec2:us-west-1:123456789012:instance/i-1234567890abcdef0"],
)
EC2_PATTERN = '{"source": ["aws.ec2"], "detail-type": ["EC2 Instance State-change Notification"], "detail": {"state": ["terminated"]}}'

# [CF] the sample event of the content-filtering examples (event-ruler's README event)
EC2_RUNNING = envelope(
    {
        "c-count": 5,
        "d-count": 3,
        "x-limit": 301.8,
        "source-ip": "10.0.0.33",
        "instance-id": "i-000000aaaaaa00000",
        "state": "running",
    },
    source="aws.ec2",
    detail_type="EC2 Instance State-change Notification",
    resources=["arn:aws:ec2:us-east-1:123456789012:instance/i-000000aaaaaa00000"],
    time="2017-10-02T16:24:49Z",
)

# [NULL] the Auto Scaling event of the null-values page
NULLS = envelope(
    {"eventVersion": "", "responseElements": None},
    source="aws.autoscaling",
    detail_type="EC2 Instance Launch Successful",
    time="2015-11-11T21:31:47Z",
)


def _detail(**fields: Any) -> dict[str, Any]:
    return envelope(fields)


CASES: list[Case] = [
    # -- exact values, AND across fields, OR within an array ---------------------------
    # [EP] the instance-termination pattern matches the EC2 event it is written for
    Case("ep-ec2-terminated", EC2_PATTERN, EC2_TERMINATED, True),
    # [EP] ... and not an instance that is still running (every field must match)
    Case(
        "ep-ec2-running-not-terminated",
        EC2_PATTERN,
        envelope(
            {"state": "running"},
            source="aws.ec2",
            detail_type="EC2 Instance State-change Notification",
        ),
        False,
    ),
    # [EP] "the event must contain all the field names listed in the pattern": no detail.state
    Case(
        "ep-field-missing",
        EC2_PATTERN,
        envelope(
            {"instance-id": "i-1"},
            source="aws.ec2",
            detail_type="EC2 Instance State-change Notification",
        ),
        False,
    ),
    # [EP] "Matching on multiple field values": aws.ec2 OR aws.fargate
    Case(
        "ep-multiple-values-second",
        '{"source": ["aws.ec2", "aws.fargate"]}',
        envelope(source="aws.fargate"),
        True,
    ),
    Case(
        "ep-multiple-values-neither",
        '{"source": ["aws.ec2", "aws.fargate"]}',
        envelope(source="aws.s3"),
        False,
    ),
    # [EP] matching is exact, character by character and case-sensitive
    Case("ep-case-sensitive", '{"source": ["aws.ec2"]}', envelope(source="AWS.EC2"), False),
    # [OPS] "And": Location is "New York" and Day is "Monday"
    Case(
        "ops-and-both",
        '{"detail": {"Location": ["New York"], "Day": ["Monday"]}}',
        _detail(Location="New York", Day="Monday"),
        True,
    ),
    Case(
        "ops-and-one-differs",
        '{"detail": {"Location": ["New York"], "Day": ["Monday"]}}',
        _detail(Location="New York", Day="Tuesday"),
        False,
    ),
    # [OPS] "Equals": Name is "Alice"
    Case("ops-equals", '{"detail": {"Name": ["Alice"]}}', _detail(Name="Alice"), True),
    # [OPS] "Or": PaymentType is "Credit" or "Debit"
    Case(
        "ops-or-values",
        '{"detail": {"PaymentType": ["Credit", "Debit"]}}',
        _detail(PaymentType="Debit"),
        True,
    ),
    Case(
        "ops-or-values-neither",
        '{"detail": {"PaymentType": ["Credit", "Debit"]}}',
        _detail(PaymentType="Cash"),
        False,
    ),
    # [EP] values are JSON values: the string "5" is not the number 5
    Case("ep-string-is-not-number", '{"detail": {"count": [5]}}', _detail(count="5"), False),
    Case("ep-number-exact", '{"detail": {"count": [5]}}', _detail(count=5), True),
    # [EP] true/false are JSON keywords, not strings
    Case("ep-boolean-literal", '{"detail": {"enabled": [true]}}', _detail(enabled=True), True),
    Case(
        "ep-boolean-not-string", '{"detail": {"enabled": [true]}}', _detail(enabled="true"), False
    ),
    # -- null and empty string -----------------------------------------------------------
    # [NULL] eventVersion is an empty string
    Case("null-empty-string", '{"detail": {"eventVersion": [""]}}', NULLS, True),
    # [NULL] responseElements is null
    Case("null-null", '{"detail": {"responseElements": [null]}}', NULLS, True),
    # [NULL] "an event pattern that matches empty strings doesn't match values of null"
    Case("null-empty-does-not-match-null", '{"detail": {"responseElements": [""]}}', NULLS, False),
    Case("null-null-does-not-match-empty", '{"detail": {"eventVersion": [null]}}', NULLS, False),
    # [OPS] "Null": UserID is null; a missing UserID is not null
    Case("ops-null-missing-field", '{"detail": {"UserID": [null]}}', _detail(Name="Alice"), False),
    # -- arrays ----------------------------------------------------------------------------
    # [ARR] the pattern's first ARN is the event's second resource: the intersection is non-empty
    Case(
        "arr-intersection",
        '{"resources": ["arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f", "arn:aws:ec2:us-east-1:111122223333:instance/i-b188560f", "arn:aws:ec2:us-east-1:444455556666:instance/i-b188560f"]}',
        envelope(
            resources=[
                "arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:eb56d16b-bbf0-401d-b893-d5978ed4a025:autoScalingGroupName/ASGTerminate",
                "arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f",
            ]
        ),
        True,
    ),
    # [ARR] no element in common: no match
    Case(
        "arr-disjoint",
        '{"resources": ["arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f"]}',
        envelope(resources=["arn:aws:ec2:us-east-1:123456789012:instance/i-00000000"]),
        False,
    ),
    # [RULER] "JSON Array Matching": objects in an array are matched as if each were the field's value
    Case(
        "ruler-array-of-objects",
        '{"detail": {"employees": {"firstName": ["Anna"]}}}',
        _detail(
            employees=[
                {"firstName": "John", "lastName": "Doe"},
                {"firstName": "Anna", "lastName": "Smith"},
                {"firstName": "Peter", "lastName": "Jones"},
            ]
        ),
        True,
    ),
    # [RULER] fields from different elements of one array never combine ("Anna"/"Jones")
    Case(
        "ruler-array-consistent",
        '{"detail": {"employees": {"firstName": ["Anna"], "lastName": ["Jones"]}}}',
        _detail(
            employees=[
                {"firstName": "John", "lastName": "Doe"},
                {"firstName": "Anna", "lastName": "Smith"},
                {"firstName": "Peter", "lastName": "Jones"},
            ]
        ),
        False,
    ),
    Case(
        "ruler-array-same-element",
        '{"detail": {"employees": {"firstName": ["Anna"], "lastName": ["Smith"]}}}',
        _detail(
            employees=[
                {"firstName": "John", "lastName": "Doe"},
                {"firstName": "Anna", "lastName": "Smith"},
            ]
        ),
        True,
    ),
    # [RULER] multi-level arrays are crushed out the same way
    Case(
        "ruler-nested-arrays",
        '{"detail": {"employees": {"firstName": ["Peter"]}}}',
        _detail(
            employees=[[{"firstName": "John"}, {"firstName": "Anna"}], [{"firstName": "Peter"}]]
        ),
        True,
    ),
    # -- prefix / suffix -------------------------------------------------------------------
    # [CF] "Prefix matching": time starts with 2017-10-02
    Case("cf-prefix-time", '{"time": [{"prefix": "2017-10-02"}]}', EC2_RUNNING, True),
    Case("cf-prefix-time-other-day", '{"time": [{"prefix": "2017-10-02"}]}', EC2_TERMINATED, False),
    # [OPS] "Begins with": Region is in the US
    Case(
        "ops-prefix-region",
        '{"detail": {"Region": [{"prefix": "us-"}]}}',
        _detail(Region="us-west-2"),
        True,
    ),
    # [CF] prefix matching is for string values only
    Case(
        "cf-prefix-not-on-numbers",
        '{"detail": {"code": [{"prefix": "12"}]}}',
        _detail(code=123),
        False,
    ),
    # [CF] "Prefix matching while ignoring case": EventB, EVENTB, eventb ...
    Case(
        "cf-prefix-ignore-case",
        '{"detail": {"service": [{"prefix": {"equals-ignore-case": "EventB"}}]}}',
        _detail(service="EVENTBRIDGE"),
        True,
    ),
    Case(
        "cf-prefix-ignore-case-no",
        '{"detail": {"service": [{"prefix": {"equals-ignore-case": "EventB"}}]}}',
        _detail(service="SQS"),
        False,
    ),
    # [CF] "Suffix matching": FileName ends with .png
    Case(
        "cf-suffix",
        '{"detail": {"FileName": [{"suffix": ".png"}]}}',
        _detail(FileName="image.png"),
        True,
    ),
    Case(
        "cf-suffix-no",
        '{"detail": {"FileName": [{"suffix": ".png"}]}}',
        _detail(FileName="image.jpg"),
        False,
    ),
    # [CF] suffix is case-sensitive unless equals-ignore-case is used
    Case(
        "cf-suffix-case-sensitive",
        '{"detail": {"FileName": [{"suffix": ".png"}]}}',
        _detail(FileName="image.PNG"),
        False,
    ),
    # [CF] "Suffix matching while ignoring case": .png, .PNG ...
    Case(
        "cf-suffix-ignore-case",
        '{"detail": {"FileName": [{"suffix": {"equals-ignore-case": ".png"}}]}}',
        _detail(FileName="image.PNG"),
        True,
    ),
    # -- equals-ignore-case ----------------------------------------------------------------
    # [OPS] "Equals (ignore case)": Name is "Alice", regardless of case
    Case(
        "ops-equals-ignore-case",
        '{"detail": {"Name": [{"equals-ignore-case": "alice"}]}}',
        _detail(Name="ALICE"),
        True,
    ),
    Case(
        "ops-equals-ignore-case-other",
        '{"detail": {"Name": [{"equals-ignore-case": "alice"}]}}',
        _detail(Name="Alicia"),
        False,
    ),
    # -- anything-but ----------------------------------------------------------------------
    # [CF] "Anything-but matching": state is anything but initializing
    Case(
        "cf-anything-but-string",
        '{"detail": {"state": [{"anything-but": "initializing"}]}}',
        EC2_RUNNING,
        True,
    ),
    Case(
        "cf-anything-but-string-excluded",
        '{"detail": {"state": [{"anything-but": "initializing"}]}}',
        _detail(state="initializing"),
        False,
    ),
    # [CF] anything-but a number
    Case(
        "cf-anything-but-number",
        '{"detail": {"x-limit": [{"anything-but": 123}]}}',
        _detail(**{"x-limit": 123}),
        False,
    ),
    Case(
        "cf-anything-but-number-other",
        '{"detail": {"x-limit": [{"anything-but": 123}]}}',
        _detail(**{"x-limit": 124}),
        True,
    ),
    # [CF] anything-but a list of strings
    Case(
        "cf-anything-but-list",
        '{"detail": {"state": [{"anything-but": ["stopped", "overloaded"]}]}}',
        _detail(state="overloaded"),
        False,
    ),
    Case(
        "cf-anything-but-list-other",
        '{"detail": {"state": [{"anything-but": ["stopped", "overloaded"]}]}}',
        _detail(state="running"),
        True,
    ),
    # [CF] anything-but a list of numbers
    Case(
        "cf-anything-but-numbers",
        '{"detail": {"x-limit": [{"anything-but": [100, 200, 300]}]}}',
        _detail(**{"x-limit": 200}),
        False,
    ),
    Case(
        "cf-anything-but-numbers-other",
        '{"detail": {"x-limit": [{"anything-but": [100, 200, 300]}]}}',
        EC2_RUNNING,
        True,
    ),
    # [CF] "Anything-but matching" needs the field: it matches values, and a missing field has none
    Case(
        "cf-anything-but-missing-field",
        '{"detail": {"state": [{"anything-but": "initializing"}]}}',
        _detail(other="x"),
        False,
    ),
    # [CF] anything-but prefix: state does not begin with "init"
    Case(
        "cf-anything-but-prefix",
        '{"detail": {"state": [{"anything-but": {"prefix": "init"}}]}}',
        _detail(state="initializing"),
        False,
    ),
    Case(
        "cf-anything-but-prefix-other",
        '{"detail": {"state": [{"anything-but": {"prefix": "init"}}]}}',
        _detail(state="running"),
        True,
    ),
    # [OPS] "Anything-but (begins with)": Region is not in the US
    Case(
        "ops-anything-but-prefix-region",
        '{"detail": {"Region": [{"anything-but": {"prefix": "us-"}}]}}',
        _detail(Region="eu-west-1"),
        True,
    ),
    # [OPS] "Anything-but (ends with)": FileName does not end with .png
    Case(
        "ops-anything-but-suffix",
        '{"detail": {"FileName": [{"anything-but": {"suffix": ".png"}}]}}',
        _detail(FileName="image.png"),
        False,
    ),
    Case(
        "ops-anything-but-suffix-other",
        '{"detail": {"FileName": [{"anything-but": {"suffix": ".png"}}]}}',
        _detail(FileName="notes.txt"),
        True,
    ),
    # [OPS] "Anything-but (ignore case)": not "initializing" in any casing
    Case(
        "ops-anything-but-ignore-case",
        '{"detail": {"state": [{"anything-but": {"equals-ignore-case": "initializing"}}]}}',
        _detail(state="INITIALIZING"),
        False,
    ),
    Case(
        "ops-anything-but-ignore-case-other",
        '{"detail": {"state": [{"anything-but": {"equals-ignore-case": ["initializing", "stopped"]}}]}}',
        _detail(state="Running"),
        True,
    ),
    # [OPS] "Anything-but using a wildcard": FilePath does not include /lib/
    Case(
        "ops-anything-but-wildcard",
        '{"detail": {"FilePath": [{"anything-but": {"wildcard": "*/lib/*"}}]}}',
        _detail(FilePath="/user/lib/libc.so"),
        False,
    ),
    Case(
        "ops-anything-but-wildcard-other",
        '{"detail": {"FilePath": [{"anything-but": {"wildcard": "*/lib/*"}}]}}',
        _detail(FilePath="/user/bin/sh"),
        True,
    ),
    # [OPS] "Not": Weather is anything but "Raining"
    Case(
        "ops-not",
        '{"detail": {"Weather": [{"anything-but": ["Raining"]}]}}',
        _detail(Weather="Sunny"),
        True,
    ),
    # -- numeric -----------------------------------------------------------------------------
    # [CF] "Numeric matching": c-count in (0, 5], d-count < 10, x-limit = 3.018e2, all on the sample event
    Case(
        "cf-numeric-all",
        '{"detail": {"c-count": [{"numeric": [">", 0, "<=", 5]}], "d-count": [{"numeric": ["<", 10]}], "x-limit": [{"numeric": ["=", 3.018e2]}]}}',
        EC2_RUNNING,
        True,
    ),
    # [CF] "only matches events that are true for all fields": c-count 0 is outside (0, 5]
    Case(
        "cf-numeric-lower-bound-open",
        '{"detail": {"c-count": [{"numeric": [">", 0, "<=", 5]}]}}',
        _detail(**{"c-count": 0}),
        False,
    ),
    Case(
        "cf-numeric-upper-bound-closed",
        '{"detail": {"c-count": [{"numeric": [">", 0, "<=", 5]}]}}',
        _detail(**{"c-count": 5}),
        True,
    ),
    Case(
        "cf-numeric-less-than",
        '{"detail": {"d-count": [{"numeric": ["<", 10]}]}}',
        _detail(**{"d-count": 10}),
        False,
    ),
    # [CF] numeric matching works with values that are JSON numbers only
    Case(
        "cf-numeric-not-on-strings",
        '{"detail": {"d-count": [{"numeric": ["<", 10]}]}}',
        _detail(**{"d-count": "3"}),
        False,
    ),
    # [CF] limited to -5.0e9 ... +5.0e9: a larger event value never matches a range
    Case(
        "cf-numeric-out-of-range-event",
        '{"detail": {"size": [{"numeric": [">", 0]}]}}',
        _detail(size=6_000_000_000),
        False,
    ),
    # [OPS] "Numeric (equals)": Price is 100 (100.0 is the same JSON number)
    Case(
        "ops-numeric-equals",
        '{"detail": {"Price": [{"numeric": ["=", 100]}]}}',
        _detail(Price=100.0),
        True,
    ),
    # [OPS] "Numeric (range)": Price is more than 10 and less than or equal to 20
    Case(
        "ops-numeric-range",
        '{"detail": {"Price": [{"numeric": [">", 10, "<=", 20]}]}}',
        _detail(Price=15.5),
        True,
    ),
    Case(
        "ops-numeric-range-below",
        '{"detail": {"Price": [{"numeric": [">", 10, "<=", 20]}]}}',
        _detail(Price=10),
        False,
    ),
    Case(
        "ops-numeric-range-inclusive",
        '{"detail": {"Price": [{"numeric": [">=", 10, "<", 20]}]}}',
        _detail(Price=10),
        True,
    ),
    # -- IP address --------------------------------------------------------------------------
    # [CF] "IP address matching": 10.0.0.0/24 contains 10.0.0.0 ... 10.0.0.255
    Case(
        "cf-cidr-v4",
        '{"detail": {"sourceIPAddress": [{"cidr": "10.0.0.0/24"}]}}',
        _detail(sourceIPAddress="10.0.0.255"),
        True,
    ),
    Case(
        "cf-cidr-v4-outside",
        '{"detail": {"sourceIPAddress": [{"cidr": "10.0.0.0/24"}]}}',
        _detail(sourceIPAddress="10.0.1.0"),
        False,
    ),
    # [CF] "You can use IP address matching for IPv4 and IPv6 addresses"
    Case(
        "cf-cidr-v6",
        '{"detail": {"sourceIPAddress": [{"cidr": "2001:db8::/64"}]}}',
        _detail(sourceIPAddress="2001:db8::1"),
        True,
    ),
    Case(
        "cf-cidr-v6-outside",
        '{"detail": {"sourceIPAddress": [{"cidr": "2001:db8::/64"}]}}',
        _detail(sourceIPAddress="2001:db9::1"),
        False,
    ),
    Case(
        "cf-cidr-not-an-address",
        '{"detail": {"sourceIPAddress": [{"cidr": "10.0.0.0/24"}]}}',
        _detail(sourceIPAddress="lambda.amazonaws.com"),
        False,
    ),
    # -- exists ------------------------------------------------------------------------------
    # [CF] "Exists matching": detail.state exists in the EC2 event
    Case("cf-exists-true", '{"detail": {"state": [{"exists": true}]}}', EC2_TERMINATED, True),
    # [CF] ... and not in an event without detail.state
    Case(
        "cf-exists-true-missing",
        '{"detail": {"state": [{"exists": true}]}}',
        _detail(**{"c-count": {"c1": 100}}),
        False,
    ),
    # [CF] exists works on leaf nodes only: an object is not a value
    Case(
        "cf-exists-true-object",
        '{"detail": {"c-count": [{"exists": true}]}}',
        _detail(**{"c-count": {"c1": 100}}),
        False,
    ),
    # [CF] exists false: no detail.c-count in the event
    Case(
        "cf-exists-false",
        '{"detail": {"c-count": [{"exists": false}]}}',
        _detail(state=["initializing", "running"]),
        True,
    ),
    # [CF] exists false also matches when c-count is an object, "because c-count isn't a leaf node"
    Case(
        "cf-exists-false-object",
        '{"detail": {"c-count": [{"exists": false}]}}',
        _detail(state=["initializing", "running"], **{"c-count": {"c1": 100}}),
        True,
    ),
    Case(
        "cf-exists-false-present",
        '{"detail": {"c-count": [{"exists": false}]}}',
        EC2_RUNNING,
        False,
    ),
    # [OPS] "Exists" / "Does not exist": ProductName
    Case(
        "ops-exists",
        '{"detail": {"ProductName": [{"exists": true}]}}',
        _detail(ProductName="Widget"),
        True,
    ),
    Case(
        "ops-does-not-exist",
        '{"detail": {"ProductName": [{"exists": false}]}}',
        _detail(ProductName="Widget"),
        False,
    ),
    # -- wildcard ----------------------------------------------------------------------------
    # [OPS] "Wildcard": any file with the .png extension in the folder dir
    Case(
        "ops-wildcard",
        '{"detail": {"FileName": [{"wildcard": "dir/*.png"}]}}',
        _detail(FileName="dir/image.png"),
        True,
    ),
    Case(
        "ops-wildcard-other-dir",
        '{"detail": {"FileName": [{"wildcard": "dir/*.png"}]}}',
        _detail(FileName="other/image.png"),
        False,
    ),
    # [OPS] wildcard matches zero characters too
    Case(
        "ops-wildcard-empty-run",
        '{"detail": {"FileName": [{"wildcard": "dir/*.png"}]}}',
        _detail(FileName="dir/.png"),
        True,
    ),
    # [OPS] several wildcards in one value: an event bus ARN in any account
    Case(
        "ops-wildcard-arn",
        '{"detail": {"EventBusArn": [{"wildcard": "arn:aws:events:us-east-1:*:event-bus/*"}]}}',
        _detail(EventBusArn="arn:aws:events:us-east-1:123456789012:event-bus/orders"),
        True,
    ),
    Case(
        "ops-wildcard-arn-region",
        '{"detail": {"EventBusArn": [{"wildcard": "arn:aws:events:us-east-1:*:event-bus/*"}]}}',
        _detail(EventBusArn="arn:aws:events:eu-west-1:123456789012:event-bus/orders"),
        False,
    ),
    # [OPS] a wildcard character escaped with a backslash matches a literal *
    Case(
        "ops-wildcard-escaped-star",
        '{"detail": {"Note": [{"wildcard": "a\\\\*b"}]}}',
        _detail(Note="a*b"),
        True,
    ),
    Case(
        "ops-wildcard-escaped-star-not-wild",
        '{"detail": {"Note": [{"wildcard": "a\\\\*b"}]}}',
        _detail(Note="axb"),
        False,
    ),
    # -- $or ---------------------------------------------------------------------------------
    # [OPS] "Or (multiple fields)": Location is "New York", or Day is "Monday"
    Case(
        "ops-or-fields-first",
        '{"detail": {"$or": [{"Location": ["New York"]}, {"Day": ["Monday"]}]}}',
        _detail(Location="New York", Day="Friday"),
        True,
    ),
    Case(
        "ops-or-fields-second",
        '{"detail": {"$or": [{"Location": ["New York"]}, {"Day": ["Monday"]}]}}',
        _detail(Location="Boston", Day="Monday"),
        True,
    ),
    Case(
        "ops-or-fields-neither",
        '{"detail": {"$or": [{"Location": ["New York"]}, {"Day": ["Monday"]}]}}',
        _detail(Location="Boston", Day="Friday"),
        False,
    ),
    # [OPS] $or across numeric conditions: c-count in (0, 5], or d-count < 10, or x-limit = 301.8
    Case(
        "ops-or-numeric",
        '{"detail": {"$or": [{"c-count": [{"numeric": [">", 0, "<=", 5]}]}, {"d-count": [{"numeric": ["<", 10]}]}, {"x-limit": [{"numeric": ["=", 3.018e2]}]}]}}',
        _detail(**{"c-count": 99, "d-count": 99, "x-limit": 301.8}),
        True,
    ),
    Case(
        "ops-or-numeric-none",
        '{"detail": {"$or": [{"c-count": [{"numeric": [">", 0, "<=", 5]}]}, {"d-count": [{"numeric": ["<", 10]}]}, {"x-limit": [{"numeric": ["=", 3.018e2]}]}]}}',
        _detail(**{"c-count": 99, "d-count": 99, "x-limit": 1}),
        False,
    ),
    # [OPS]/[RULER] $or at the top level, ANDed with the fields beside it: source AND (metricName OR namespace)
    Case(
        "ruler-or-top-level",
        '{"source": ["aws.cloudwatch"], "$or": [{"detail": {"metricName": ["CPUUtilization", "ReadLatency"]}}, {"detail": {"namespace": ["AWS/EC2", "AWS/ES"]}}]}',
        envelope({"metricName": "Invocations", "namespace": "AWS/ES"}, source="aws.cloudwatch"),
        True,
    ),
    Case(
        "ruler-or-top-level-and-fails",
        '{"source": ["aws.cloudwatch"], "$or": [{"detail": {"metricName": ["CPUUtilization", "ReadLatency"]}}, {"detail": {"namespace": ["AWS/EC2", "AWS/ES"]}}]}',
        envelope({"metricName": "CPUUtilization"}, source="aws.ec2"),
        False,
    ),
    # [RULER] "Or" with an "And" inside: metricType AND namespace must both hold in that branch
    Case(
        "ruler-or-with-and",
        '{"detail": {"$or": [{"metricName": ["CPUUtilization"]}, {"metricType": ["MetricType"], "namespace": ["AWS/EC2"]}, {"scope": ["Service"]}]}}',
        _detail(metricType="MetricType", namespace="AWS/ES"),
        False,
    ),
    Case(
        "ruler-or-with-and-holds",
        '{"detail": {"$or": [{"metricName": ["CPUUtilization"]}, {"metricType": ["MetricType"], "namespace": ["AWS/EC2"]}, {"scope": ["Service"]}]}}',
        _detail(metricType="MetricType", namespace="AWS/EC2"),
        True,
    ),
    # [RULER] nested $or inside an $or branch: metricId 1234 OR spaceId 1000
    Case(
        "ruler-nested-or",
        '{"detail": {"$or": [{"metricName": ["CPUUtilization"]}, {"namespace": ["AWS/EC2"], "$or": [{"metricId": [1234]}, {"spaceId": [1000]}]}]}}',
        _detail(namespace="AWS/EC2", spaceId=1000),
        True,
    ),
    Case(
        "ruler-nested-or-none",
        '{"detail": {"$or": [{"metricName": ["CPUUtilization"]}, {"namespace": ["AWS/EC2"], "$or": [{"metricId": [1234]}, {"spaceId": [1000]}]}]}}',
        _detail(namespace="AWS/EC2", spaceId=1),
        False,
    ),
    # -- combined ----------------------------------------------------------------------------
    # [CF] "Complex example with multiple matching" against the sample event
    Case(
        "cf-complex",
        '{"time": [{"prefix": "2017-10-02"}], "detail": {"state": [{"anything-but": "initializing"}], "c-count": [{"numeric": [">", 0, "<=", 5]}], "d-count": [{"numeric": ["<", 10]}], "x-limit": [{"anything-but": [100, 200, 300]}]}}',
        EC2_RUNNING,
        True,
    ),
    Case(
        "cf-complex-one-fails",
        '{"time": [{"prefix": "2017-10-02"}], "detail": {"state": [{"anything-but": "initializing"}], "c-count": [{"numeric": [">", 0, "<=", 5]}], "d-count": [{"numeric": ["<", 10]}], "x-limit": [{"anything-but": [100, 200, 300]}]}}',
        envelope(
            {"state": "running", "c-count": 5, "d-count": 3, "x-limit": 300},
            time="2017-10-02T16:24:49Z",
        ),
        False,
    ),
    # [CF] one array may mix exact values and match expressions (OR): exists false OR "none"
    Case(
        "cf-mixed-array-exists-false",
        '{"detail": {"tier": ["none", {"exists": false}]}}',
        _detail(name="x"),
        True,
    ),
    Case(
        "cf-mixed-array-value",
        '{"detail": {"tier": ["none", {"exists": false}]}}',
        _detail(tier="none"),
        True,
    ),
    Case(
        "cf-mixed-array-neither",
        '{"detail": {"tier": ["none", {"exists": false}]}}',
        _detail(tier="gold"),
        False,
    ),
]


class Invalid(NamedTuple):
    name: str
    pattern: str
    reason: str  # what follows "Event pattern is not valid. Reason: "


INVALID: list[Invalid] = [
    # [EP] a pattern is a JSON object ...
    Invalid("not-an-object", '["aws.ec2"]', "Filter is not an object"),
    # [EP] ... whose values are arrays (or nested objects)
    Invalid("scalar-value", '{"source": "aws.ec2"}', '"source" must be an object or an array'),
    Invalid("empty-object", "{}", "Empty objects are not allowed"),
    Invalid("empty-array", '{"source": []}', "Empty arrays are not allowed"),
    Invalid(
        "nested-array",
        '{"source": [["aws.ec2"]]}',
        "Match value must be String, number, true, false, or null",
    ),
    Invalid("not-json", '{"source": ["aws.ec2"]', "Expecting ',' delimiter"),
    Invalid(
        "unknown-operator", '{"source": [{"contains": "ec2"}]}', "Unrecognized match type contains"
    ),
    Invalid(
        "two-operators",
        '{"source": [{"prefix": "aws.", "suffix": "ec2"}]}',
        "Only one key allowed in match expression",
    ),
    Invalid("empty-expression", '{"source": [{}]}', "Match expression name not found"),
    Invalid(
        "prefix-not-string", '{"source": [{"prefix": 5}]}', "prefix match pattern must be a string"
    ),
    Invalid(
        "prefix-bad-option",
        '{"source": [{"prefix": {"wildcard": "a*"}}]}',
        "Unsupported prefix pattern: wildcard",
    ),
    Invalid(
        "suffix-not-string",
        '{"source": [{"suffix": null}]}',
        "suffix match pattern must be a string",
    ),
    Invalid(
        "equals-ignore-case-not-string",
        '{"source": [{"equals-ignore-case": 1}]}',
        "equals-ignore-case match pattern must be a string",
    ),
    # [CF] anything-but lists hold only strings or only numbers
    Invalid(
        "anything-but-mixed",
        '{"detail": {"x": [{"anything-but": ["a", 1]}]}}',
        "Inside anything but list, either all values are number or string, mixed type is not supported",
    ),
    Invalid(
        "anything-but-null",
        '{"detail": {"x": [{"anything-but": [null]}]}}',
        "Inside anything but list, start|null|boolean is not supported.",
    ),
    Invalid(
        "anything-but-boolean",
        '{"detail": {"x": [{"anything-but": true}]}}',
        "Value of anything-but must be an array or single string/number value.",
    ),
    Invalid(
        "anything-but-unsupported",
        '{"detail": {"x": [{"anything-but": {"numeric": [">", 1]}}]}}',
        "Unsupported anything-but pattern: numeric",
    ),
    Invalid(
        "anything-but-empty-prefix",
        '{"detail": {"x": [{"anything-but": {"prefix": ""}}]}}',
        "Null prefix/suffix not allowed",
    ),
    Invalid(
        "anything-but-ignore-case-number",
        '{"detail": {"x": [{"anything-but": {"equals-ignore-case": 5}}]}}',
        "Inside anything-but/equals-ignore-case list, number|start|null|boolean is not supported.",
    ),
    # [CF] numeric syntax and its limits (-5.0e9 ... 5.0e9, six decimals)
    Invalid(
        "numeric-not-array",
        '{"detail": {"x": [{"numeric": ">"}]}}',
        "Value of numeric must be an array.",
    ),
    Invalid(
        "numeric-bad-operator",
        '{"detail": {"x": [{"numeric": ["!=", 1]}]}}',
        "Unrecognized numeric range operator: !=",
    ),
    Invalid(
        "numeric-not-number",
        '{"detail": {"x": [{"numeric": [">", "1"]}]}}',
        "Value of > must be numeric",
    ),
    Invalid(
        "numeric-wrong-order",
        '{"detail": {"x": [{"numeric": ["<", 10, ">", 0]}]}}',
        "Too many elements in numeric expression",
    ),
    Invalid(
        "numeric-bad-upper",
        '{"detail": {"x": [{"numeric": [">", 0, ">", 10]}]}}',
        "Bad numeric range operator: >",
    ),
    Invalid(
        "numeric-too-many",
        '{"detail": {"x": [{"numeric": [">", 0, "<", 10, "<", 20]}]}}',
        "Too many terms in numeric range expression",
    ),
    Invalid(
        "numeric-empty-range",
        '{"detail": {"x": [{"numeric": [">", 10, "<", 10]}]}}',
        "Bottom must be less than top",
    ),
    Invalid(
        "numeric-too-large",
        '{"detail": {"x": [{"numeric": [">", 0, "<", 5000000001]}]}}',
        "Value must be between -5.0E9 and 5.0E9, inclusive",
    ),
    Invalid(
        "numeric-equals-too-large",
        '{"detail": {"x": [{"numeric": ["=", -6e9]}]}}',
        "Value must be between -5.0E9 and 5.0E9, inclusive",
    ),
    Invalid(
        "numeric-too-precise",
        '{"detail": {"x": [{"numeric": ["=", 0.1234567]}]}}',
        "Only values upto 6 decimals are supported",
    ),
    # [CF] exists takes a boolean
    Invalid(
        "exists-not-boolean",
        '{"detail": {"x": [{"exists": "true"}]}}',
        "exists match pattern must be either true or false.",
    ),
    # [CF] cidr takes a CIDR block
    Invalid(
        "cidr-no-mask",
        '{"detail": {"ip": [{"cidr": "10.0.0.1"}]}}',
        "Malformed CIDR, one '/' required",
    ),
    Invalid(
        "cidr-bad-mask",
        '{"detail": {"ip": [{"cidr": "10.0.0.0/33"}]}}',
        "IPv4 mask bits must be < 32",
    ),
    Invalid(
        "cidr-v6-bad-mask",
        '{"detail": {"ip": [{"cidr": "2001:db8::/128"}]}}',
        "IPv6 mask bits must be < 128",
    ),
    Invalid(
        "cidr-mask-not-integer",
        '{"detail": {"ip": [{"cidr": "10.0.0.0/x"}]}}',
        "Malformed CIDR, mask bits must be an integer",
    ),
    Invalid(
        "cidr-not-an-address",
        '{"detail": {"ip": [{"cidr": "example.com/24"}]}}',
        "Nonstandard IP address: example.com",
    ),
    Invalid(
        "numeric-below-the-minimum",
        '{"detail": {"x": [{"numeric": ["<", -5e9]}]}}',
        "Bottom must be less than top",
    ),
    Invalid(
        "numeric-above-the-maximum",
        '{"detail": {"x": [{"numeric": [">=", 5e9]}]}}',
        "Bottom must be less than top",
    ),
    # [OPS] wildcard: no consecutive *, and \ escapes only * and \
    Invalid(
        "wildcard-consecutive",
        '{"detail": {"f": [{"wildcard": "a**b"}]}}',
        "Consecutive wildcard characters at pos 2",
    ),
    Invalid(
        "wildcard-bad-escape",
        '{"detail": {"f": [{"wildcard": "a\\\\nb"}]}}',
        "Invalid escape character at pos 2",
    ),
    Invalid(
        "anything-but-wildcard-consecutive",
        '{"detail": {"f": [{"anything-but": {"wildcard": "**"}}]}}',
        "Consecutive wildcard characters at pos 1",
    ),
    # [OPS] $or takes an array of at least two objects, and no operator names as fields
    Invalid("or-not-array", '{"$or": {"source": ["a"]}}', "It must be an Array followed with $or."),
    Invalid(
        "or-one-branch",
        '{"$or": [{"source": ["a"]}]}',
        "There must have at least 2 Objects in $or relationship.",
    ),
    Invalid(
        "or-not-objects",
        '{"$or": ["a", "b"]}',
        "Only JSON object is allowed in array of $or relationship.",
    ),
    Invalid(
        "or-reserved-name",
        '{"$or": [{"numeric": [1]}, {"prefix": ["a"]}]}',
        "numeric is Ruler reserved fieldName which cannot be used inside $or.",
    ),
    Invalid(
        "or-in-value-array", '{"source": [{"$or": ["a", "b"]}]}', "Unrecognized match type $or"
    ),
]
