"""The wire layer: AWS protocols in, typed requests out; typed responses and errors back.

Everything here is driven by botocore's service models (`specs`): one parser and
one serialiser per protocol (`json_protocol`, later rest-json and query), shared
validation with AWS's own messages (`validation`, `java_regex`). Providers never
see anything from this package but plain dicts keyed by model member names.
"""
