"""The features of a training run, one :class:`~fracture_desktop.training.loop.Handler` each."""
