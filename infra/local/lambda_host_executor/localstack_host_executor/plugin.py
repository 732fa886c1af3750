"""plux plugin that registers the host executor under ``localstack.lambda.runtime_executor``."""

from localstack.services.lambda_.invocation.plugins import RuntimeExecutorPlugin

from localstack_host_executor import EXECUTOR_NAME


class HostRuntimeExecutorPlugin(RuntimeExecutorPlugin):
    name = EXECUTOR_NAME

    def load(self, *args, **kwargs):
        from localstack_host_executor.executor import HostRuntimeExecutor, install_patches

        install_patches()
        return HostRuntimeExecutor
