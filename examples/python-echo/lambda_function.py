"""python-echo: a plain Python Lambda handler, deployed to hearth unchanged (python3.12,
Handler lambda_function.lambda_handler) and run by AWS's runtime interface client.

It answers its event back, and raises when the event is {"fail": "message"}."""

import os


def lambda_handler(event, context):
    if isinstance(event, dict) and "fail" in event:
        raise ValueError(event["fail"])
    print("python-echo handled", context.aws_request_id, "in", os.environ["AWS_LAMBDA_FUNCTION_NAME"])
    return event
