// swift-tools-version: 6.0
import PackageDescription

// Modules, from the bottom up (no cycles):
//   C* shims → Tensor → Imaging;  JupyterKernel (protocol only);  Script binds the libraries;
//   `mirage` wires Script to JupyterKernel and the command line.
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
    ],
    targets: [
        .systemLibrary(name: "CZeroMQ", pkgConfig: "libzmq", providers: [.apt(["libzmq3-dev"])]),
        .systemLibrary(name: "CPNG", pkgConfig: "libpng", providers: [.apt(["libpng-dev"])]),

        .target(name: "Tensor"),
        .target(name: "Imaging", dependencies: ["Tensor", "CPNG"]),
        .target(name: "JupyterKernel", dependencies: [
            "CZeroMQ",
            .product(name: "Crypto", package: "swift-crypto"),
        ]),
        .target(name: "Script", dependencies: ["Tensor", "Imaging"]),
        .executableTarget(name: "mirage", dependencies: [
            "JupyterKernel", "Script", "Imaging",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        .testTarget(name: "JupyterKernelTests", dependencies: ["JupyterKernel"]),
        .testTarget(name: "ScriptTests", dependencies: ["Script"]),
        .testTarget(name: "ImagingTests", dependencies: ["Imaging"]),
    ]
)
