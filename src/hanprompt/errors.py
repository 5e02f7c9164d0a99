"""The exceptions hanprompt raises. Each message names the problem and the fix."""


class HanpromptError(Exception):
    """Base class: a problem the user can fix. The CLI prints it on one line and exits 2."""

    exit_code = 2


class UsageError(HanpromptError):
    """A bad option or argument."""


class ModelNotFound(HanpromptError):
    """A model spec that names nothing loadable."""


class BackendError(HanpromptError):
    """A backend could not load or run a model with the options given."""


class DeviceError(BackendError):
    """A device or dtype that this machine cannot provide."""


class StoreError(HanpromptError):
    """The database cannot be reached, opened or migrated."""


class NotFoundError(HanpromptError):
    """An id that names no stored record."""


class InputError(HanpromptError):
    """A file or text that cannot be used as input."""


class RunBusy(HanpromptError):
    """A run that another live process is working on."""


class Terminated(KeyboardInterrupt):
    """The process was asked to stop (SIGTERM); handled like Ctrl-C, exit code 143."""

    exit_code = 143
