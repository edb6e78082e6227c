/// Imaging: PNG and NPY codecs, resizing, and turning tensors into displayable pictures.
/// Pictures are tensors with values in [0, 1], laid out CHW (channels, height, width).
public struct ImagingError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What went wrong, in words for the user (the file, the shape or the limit that was at fault).
    public var message: String
    /// An error saying `message`.
    public init(_ message: String) { self.message = message }
    /// The message itself.
    public var description: String { message }
}
