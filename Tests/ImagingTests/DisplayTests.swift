import Testing
import Tensor
@testable import Imaging

@Suite struct DisplayTests {
    @Test func smallPicturesAreMagnifiedWithNearestNeighbour() throws {
        var t = Tensor.zeros([28, 28])
        t.data[0] = 1
        let r = try PictureDisplay.render(t)
        #expect(r.width == 140 && r.height == 140)  // 28 × 5 ≥ 128
        let decoded = try PNG.decode(r.png)
        #expect(decoded.shape == [1, 140, 140])
        #expect(decoded.data[4] == 1 && decoded.data[5] == 0)          // the corner pixel became a 5×5 block
        #expect(decoded.data[4 * 140] == 1 && decoded.data[5 * 140] == 0)
    }

    @Test func largePicturesKeepTheirSize() throws {
        let r = try PictureDisplay.render(Tensor.zeros([3, 200, 300]))
        #expect(r.width == 300 && r.height == 200)
        #expect(try PNG.decode(r.png).shape == [3, 200, 300])
    }

    @Test func batchesBecomeAGrid() throws {
        let r = try PictureDisplay.render(Tensor.ones([3, 1, 8, 8]))
        // Three 8×8 cells with 2 px gaps in one row, magnified 16×.
        #expect(r.width == (3 * 8 + 2 * 2) * 16 && r.height == 8 * 16)
        let mixed = try PictureDisplay.render(pictures: [Tensor.zeros([1, 4, 4]), Tensor.ones([3, 6, 6])])
        #expect(try PNG.decode(mixed.png).shape[0] == 3)
    }

    @Test func valuesAreClamped() throws {
        let t = Tensor(shape: [1, 1, 3], data: [-5, 0.5, 7])
        let decoded = try PNG.decode(try PictureDisplay.render(t).png)
        #expect(decoded.data[0] == 0 && decoded.data[decoded.count - 1] == 1)
        #expect(decoded.shape == [1, 128, 384])
        #expect(abs(decoded.data[64 * 384 + 192] - 128.0 / 255) < 1e-6)
    }

    @Test func unsupportedShapesThrow() {
        #expect(throws: ImagingError.self) { try PictureDisplay.render(Tensor.zeros([5])) }
        #expect(throws: ImagingError.self) { try PictureDisplay.render(Tensor.zeros([2, 4, 4])) }
        #expect(throws: ImagingError.self) { try PictureDisplay.render(Tensor.zeros([0, 4])) }
        #expect(!PictureDisplay.isDisplayable(Tensor.zeros([2, 2, 2, 2, 2])))
    }

    @Test func bilinearResize() throws {
        let constant = Tensor.filled([2, 5, 7], with: 0.25)
        let resized = try Resize.bilinear(constant, height: 9, width: 3)
        #expect(resized.shape == [2, 9, 3])
        #expect(resized.data.allSatisfy { abs($0 - 0.25) < 1e-6 })
        let ramp = Tensor(shape: [1, 1, 2], data: [0, 1])
        let up = try Resize.bilinear(ramp, height: 1, width: 4)
        #expect(up.data == [0, 0.25, 0.75, 1])
        #expect(try Resize.bilinear(ramp, height: 1, width: 2) == ramp)
        #expect(throws: ImagingError.self) { try Resize.bilinear(Tensor.zeros([4, 4]), height: 2, width: 2) }
    }
}
