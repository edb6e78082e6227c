import Foundation
import Testing
@testable import Graph

/// Imports every model of ONNX's own backend tests, when they have been written out:
///   MIRAGE_ONNX_NODE_TESTS=dir     (scripts/onnx/export_node_tests.py dir)
///   MIRAGE_ONNX_LIGHT_MODELS=dir   (onnx/backend/test/data/light; scripts/onnx/list_light_models.py prints it)
///   MIRAGE_ONNX_BACKEND_DATA=dir   (onnx/backend/test/data: every .onnx under it, e.g. pytorch-converted/*/model.onnx)
/// Without them the tests are skipped (reported as such by swift test).
@Suite("ONNX import: ONNX backend test models")
struct ONNXImportConformanceTests {
    static let nodeTests = ProcessInfo.processInfo.environment["MIRAGE_ONNX_NODE_TESTS"].flatMap(existingDirectory)
    static let lightModels = ProcessInfo.processInfo.environment["MIRAGE_ONNX_LIGHT_MODELS"].flatMap(existingDirectory)
    static let backendData = ProcessInfo.processInfo.environment["MIRAGE_ONNX_BACKEND_DATA"].flatMap(existingDirectory)

    static func existingDirectory(_ path: String) -> String? {
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && isDirectory.boolValue ? path : nil
    }

    struct Tally {
        var clean: [String] = []
        var withUnsupported: [String: [String]] = [:]   // kind → cases
        var failed: [String: [String]] = [:]            // message (case name removed) → cases

        mutating func add(_ name: String, _ result: Result<Graph, Error>) {
            switch result {
            case .success(let graph):
                let kinds = Set(graph.nodes.flatMap { $0.attributes.values.compactMap { attribute -> String? in
                    if case .unsupported(let kind) = attribute { return kind }
                    return nil
                } })
                if kinds.isEmpty { clean.append(name) }
                for kind in kinds { withUnsupported[kind, default: []].append(name) }
            case .failure(let error):
                let message = (error as? ModelError)?.message ?? "NOT A ModelError: \(error)"
                failed[message, default: []].append(name)
            }
        }

        var imported: Int { clean.count + Set(withUnsupported.values.joined()).count }

        func report(_ title: String) -> String {
            var lines = ["\(title): \(imported) imported (\(clean.count) without unsupported attributes), \(failed.values.map(\.count).reduce(0, +)) refused"]
            for (kind, cases) in withUnsupported.sorted(by: { $0.key < $1.key }) {
                lines.append("  with .unsupported(\(kind)): \(cases.count): \(cases.sorted().prefix(8).joined(separator: " "))\(cases.count > 8 ? " …" : "")")
            }
            for (message, cases) in failed.sorted(by: { $0.value.count > $1.value.count }) {
                lines.append("  refused (\(cases.count)): \(message): \(cases.sorted().prefix(6).joined(separator: " "))\(cases.count > 6 ? " …" : "")")
            }
            return lines.joined(separator: "\n")
        }
    }

    @Test(.enabled(if: nodeTests != nil, "set MIRAGE_ONNX_NODE_TESTS to the output of scripts/onnx/export_node_tests.py"))
    func nodeTestModelsImport() throws {
        let root = try #require(Self.nodeTests)
        let cases = try FileManager.default.contentsOfDirectory(atPath: root)
            .filter { FileManager.default.fileExists(atPath: "\(root)/\($0)/model.onnx") }.sorted()
        try #require(!cases.isEmpty)
        var strict = Tally()
        var widened = Tally()
        for name in cases {
            let path = "\(root)/\(name)/model.onnx"
            strict.add(name, Result { try ONNXImport.load(path: path) })
            widened.add(name, Result { try ONNXImport.load(path: path, options: .init(opsets: 1...Int.max)) })
        }
        print(strict.report("node tests, \(cases.count) models, default opsets 7–21"))
        print(widened.report("node tests, \(cases.count) models, any opset"))
        // With the opset range widened, every model imports (sub-graphs as .unsupported).
        #expect(widened.failed.isEmpty)
        // With the default range, only opset refusals.
        for message in strict.failed.keys {
            #expect(message.hasPrefix("opset ") && message.contains(" of ai.onnx is "), "\(message)")
        }
    }

    @Test(.enabled(if: lightModels != nil, "set MIRAGE_ONNX_LIGHT_MODELS to onnx/backend/test/data/light"))
    func lightModelsImport() throws {
        let root = try #require(Self.lightModels)
        let models = try FileManager.default.contentsOfDirectory(atPath: root).filter { $0.hasSuffix(".onnx") }.sorted()
        try #require(!models.isEmpty)
        var tally = Tally()
        for name in models {
            let result = Result { try ONNXImport.load(path: "\(root)/\(name)") }
            tally.add(name, result)
            if case .success(let graph) = result {
                #expect(graph.opsets[""] == 9)
                #expect(graph.inputs.count == 1)
                #expect(graph.inputs.first?.shape == [.fixed(1), .fixed(3), .fixed(224), .fixed(224)])
                #expect(graph.nodes.contains { $0.opType == "ConstantOfShape" })
            }
        }
        print(tally.report("light models, \(models.count)"))
        #expect(tally.failed.isEmpty)
        #expect(tally.clean.count == models.count)
    }

    @Test(.enabled(if: backendData != nil, "set MIRAGE_ONNX_BACKEND_DATA to onnx/backend/test/data"))
    func backendDataModelsImport() throws {
        let root = try #require(Self.backendData)
        let models = (FileManager.default.enumerator(atPath: root)?.allObjects as? [String] ?? [])
            .filter { $0.hasSuffix(".onnx") }.sorted()
        try #require(!models.isEmpty)
        var strict = Tally()
        var widened = Tally()
        for name in models {
            strict.add(name, Result { try ONNXImport.load(path: "\(root)/\(name)") })
            widened.add(name, Result { try ONNXImport.load(path: "\(root)/\(name)", options: .init(opsets: 1...Int.max)) })
        }
        print(strict.report("backend test data, \(models.count) models, default opsets 7–21"))
        print(widened.report("backend test data, \(models.count) models, any opset"))
        #expect(widened.failed.isEmpty)
    }
}
