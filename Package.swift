// swift-tools-version: 6.0
import PackageDescription

// Modules, from the bottom up (no cycles):
//   C* shims (system libraries only)
//   Tensor (storage, oneDNN kernels) → Graph (ONNX import, forward, reverse-mode) → Attack (attack, detectors, metrics)
//   Imaging (codecs, transforms, plots)
//   JupyterKernel (protocol, sockets, signing, display; knows nothing of attacks)
//   Script (the Mirage language) binds the libraries; `mirage` wires Script to JupyterKernel and the CLI.
// Every target lists each module it imports (tests too), not only what reaches it through another module.
/// The numeric modules are compiled with optimisation in debug builds too: `swift test`, the kernel the Python
/// suites drive and the notebooks CI re-executes all run attacks, whose per-element loops are 10-50× slower
/// unoptimised. (The other modules keep -Onone for debugging.)
let optimizedEvenInDebug: [SwiftSetting] = [.unsafeFlags(["-O"], .when(configuration: .debug))]

let package = Package(
    name: "Mirage",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "mirage", targets: ["mirage"]),
        .library(name: "JupyterKernel", targets: ["JupyterKernel"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-protobuf.git", from: "1.39.0"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
    ],
    targets: [
        .systemLibrary(name: "CZeroMQ", pkgConfig: "libzmq", providers: [.apt(["libzmq3-dev"])]),
        .systemLibrary(name: "CPNG", pkgConfig: "libpng", providers: [.apt(["libpng-dev"])]),
        .systemLibrary(name: "CJPEG", pkgConfig: "libjpeg", providers: [.apt(["libjpeg-dev"])]),
        .systemLibrary(name: "CCairo", pkgConfig: "cairo", providers: [.apt(["libcairo2-dev"])]),
        .systemLibrary(name: "CDNNL", providers: [.apt(["libdnnl-dev"])]),
        .systemLibrary(name: "CEditLine", pkgConfig: "libedit", providers: [.apt(["libedit-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        .systemLibrary(name: "CMalloc"),
        // libFuzzer's driver entry (declaration only; the library comes with -sanitize=fuzzer, see scripts/fuzz.sh).
        .systemLibrary(name: "CFuzzer"),

        // oneDNN's functions, loaded with dlopen on the first call (not linked: start-up does not load the engine).
        .target(name: "CDNNLLoader"),
        .target(name: "Tensor", dependencies: ["CDNNL", "CDNNLLoader", "CMalloc"], swiftSettings: optimizedEvenInDebug),
        .target(name: "ONNXProto", dependencies: [.product(name: "SwiftProtobuf", package: "swift-protobuf")]),
        .target(name: "Graph", dependencies: ["Tensor", "ONNXProto", .product(name: "SwiftProtobuf", package: "swift-protobuf")],
                swiftSettings: optimizedEvenInDebug),
        .target(name: "Attack", dependencies: ["Tensor", "Graph", "Imaging"], swiftSettings: optimizedEvenInDebug),
        .target(name: "Imaging", dependencies: ["Tensor", "CPNG", "CJPEG", "CCairo", "CZlib"], swiftSettings: optimizedEvenInDebug),
        .target(name: "JupyterKernel", dependencies: [
            "CZeroMQ",
            .product(name: "Crypto", package: "swift-crypto"),
        ]),
        /// Datasets streamed in chunks, and the SQLite results store of dataset-scale audits (resumable, sharded).
        .target(name: "Audit", dependencies: [
            "Tensor", "Attack", "Imaging",
            .product(name: "GRDB", package: "GRDB.swift"),
            .product(name: "Crypto", package: "swift-crypto"),
        ], swiftSettings: optimizedEvenInDebug),
        .target(name: "Script", dependencies: ["Tensor", "Imaging", "Graph", "Attack", "Audit", .product(name: "Crypto", package: "swift-crypto")]),
        .executableTarget(name: "mirage", dependencies: [
            "JupyterKernel", "Script", "Attack", "Audit", "Graph", "Imaging", "Tensor", "CEditLine",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        // Fuzzing: the parsers' fuzz targets, a libFuzzer driver / replayer, and the replay of found inputs in `swift test`.
        .target(name: "FuzzTargets", dependencies: [
            "Script", "Graph", "Imaging", "Attack", "Tensor", "JupyterKernel",
            .product(name: "Crypto", package: "swift-crypto"),
        ], swiftSettings: optimizedEvenInDebug),
        .executableTarget(name: "mirage-fuzz", dependencies: ["FuzzTargets", "CFuzzer"]),

        .testTarget(name: "FuzzRegressionTests", dependencies: ["FuzzTargets"]),
        .testTarget(name: "JupyterKernelTests", dependencies: ["JupyterKernel", "CZeroMQ"]),
        .testTarget(name: "TensorTests", dependencies: ["Tensor", "CDNNL"]),
        .testTarget(name: "GraphTests", dependencies: ["Graph", "ONNXProto", "Tensor"], exclude: ["Fixtures"]),
        .testTarget(name: "AttackTests", dependencies: ["Attack", "Graph", "Imaging", "Tensor"], exclude: ["Fixtures"]),
        .testTarget(name: "ScriptTests", dependencies: ["Script", "Imaging", "Tensor"]),
        .testTarget(name: "AuditTests", dependencies: ["Audit", "Imaging", "Tensor"]),
        .testTarget(name: "ImagingTests", dependencies: ["Imaging", "Tensor"], exclude: ["Fixtures"]),
    ]
)
