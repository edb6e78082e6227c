/// Imaging: codecs, transforms and plots.
