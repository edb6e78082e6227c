/// The OOD attack, optimisers, detectors and metrics.
