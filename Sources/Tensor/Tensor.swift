/// Tensors: shaped Float32 storage. The engine issue grows this into oneDNN-backed buffers.
