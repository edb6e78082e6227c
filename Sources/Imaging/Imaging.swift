/// Imaging: PNG and NPY codecs, resizing, and turning tensors into displayable pictures.
/// Pictures are tensors with values in [0, 1], laid out CHW (channels, height, width).
public struct ImagingError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}
