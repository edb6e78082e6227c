// The edit distance behind the did-you-mean hints of the engine and the language.
import Testing
@testable import Graph

@Suite struct EditDistanceTests {
    @Test func countsEditsAndTranspositionsOnce() {
        #expect(editDistance("undefinde_name", "undefined_name") == 1)
        #expect(editDistance("kitten", "sitting") == 3)
        #expect(editDistance("", "abc") == 3 && editDistance("abc", "") == 3 && editDistance("", "") == 0)
        #expect(editDistance("ca", "abc") == 3)  // optimal string alignment: no edit of a swapped pair
        #expect(editDistance("Relu", "relu") == 1)
    }

    @Test func closestNamesAreTheNearestPlausibleOnes() {
        #expect(closestNames(to: "fetaures", in: ["features", "logits", "fc1"]) == ["features"])
        #expect(closestNames(to: "FEATURES", in: ["features", "logits"]) == ["features"])
        #expect(closestNames(to: "zzzzzz", in: ["features", "logits"]).isEmpty)
    }
}
