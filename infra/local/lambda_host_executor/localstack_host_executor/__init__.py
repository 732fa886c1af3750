"""LocalStack Lambda runtime executor that runs functions as host processes.

Select it with ``LAMBDA_RUNTIME_EXECUTOR=host`` (see infra/local/README.md).
"""

EXECUTOR_NAME = "host"
