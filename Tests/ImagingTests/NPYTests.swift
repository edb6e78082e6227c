import Testing
import Tensor
@testable import Imaging

@Suite struct NPYTests {
    @Test func float32RoundTripIsExact() throws {
        var g = SeededGenerator(seed: 3)
        let t = Tensor.normal([2, 3, 4], using: &g)
        let bytes = NPY.encode(t)
        #expect((bytes.count - t.count * 4) % 64 == 0)  // header padded to 64 bytes
        #expect(try NPY.decode(bytes) == t)
    }

    @Test func otherTypesAndShapes() throws {
        let t = Tensor(shape: [5], data: [0, 1.5, 254.6, 300, -2])
        #expect(try NPY.decode(NPY.encode(t, dtype: .float64)) == t)
        #expect(try NPY.decode(NPY.encode(t, dtype: .uint8)).data == [0, 2, 255, 255, 0])
        let scalar = Tensor(scalar: 7)
        #expect(try NPY.decode(NPY.encode(scalar)) == scalar)
        let empty = Tensor.zeros([0, 3])
        #expect(try NPY.decode(NPY.encode(empty)) == empty)
    }

    @Test func readsVersion2AndBigEndian() throws {
        let header = "{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }\n"
        var bytes: [UInt8] = [0x93] + Array("NUMPY".utf8) + [2, 0]
        let n = header.utf8.count
        bytes += [UInt8(n & 0xFF), UInt8(n >> 8), 0, 0] + Array(header.utf8)
        for v: Float in [1.5, -3] { let b = v.bitPattern; bytes += [UInt8(b >> 24), UInt8((b >> 16) & 0xFF), UInt8((b >> 8) & 0xFF), UInt8(b & 0xFF)] }
        #expect(try NPY.decode(bytes) == Tensor(shape: [2], data: [1.5, -3]))
    }

    @Test func corruptInputThrows() throws {
        let good = NPY.encode(Tensor.ones([4, 4]))
        #expect(throws: ImagingError.self) { try NPY.decode([]) }
        #expect(throws: ImagingError.self) { try NPY.decode(Array("NUMPY".utf8)) }
        #expect(throws: ImagingError.self) { try NPY.decode(Array(good.dropLast(3))) }
        var fortran = good
        let falseAt = try #require(offset(of: "False", in: good))
        fortran.replaceSubrange(falseAt..<(falseAt + 5), with: Array("True ".utf8))
        #expect(throws: ImagingError.self) { try NPY.decode(fortran) }
        var wrongType = good
        let descrAt = try #require(offset(of: "<f4", in: good))
        wrongType.replaceSubrange(descrAt..<(descrAt + 3), with: Array("<c8".utf8))
        #expect(throws: ImagingError.self) { try NPY.decode(wrongType) }
    }

    private func offset(of pattern: String, in bytes: [UInt8]) -> Int? {
        let p = Array(pattern.utf8)
        return (0...(bytes.count - p.count)).first { Array(bytes[$0..<($0 + p.count)]) == p }
    }
}
