/// Jupyter messaging protocol over ZeroMQ.
