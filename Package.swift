// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "llm-sessions",
    platforms: [.macOS(.v13)],
    products: [
        .library(name: "LLMSessions", targets: ["LLMSessions"]),
        .executable(name: "llm-sessions", targets: ["llm-sessions"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        // libpq through pkg-config; the module map and shim.h are all this target holds.
        .systemLibrary(
            name: "CLibPQ",
            pkgConfig: "libpq",
            providers: [.apt(["libpq-dev"]), .brew(["libpq"])]
        ),
        // The typed client: connection pool, SessionStore, models. Foundation + libpq only.
        .target(
            name: "LLMSessions",
            dependencies: ["CLibPQ"]
        ),
        .executableTarget(
            name: "llm-sessions",
            dependencies: [
                "LLMSessions",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // make bench: times SessionStore calls for scripts/bench.py, beside pgbench.
        .executableTarget(
            name: "llm-sessions-bench",
            dependencies: [
                "LLMSessions",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(
            name: "LLMSessionsTests",
            dependencies: ["LLMSessions"]
        ),
    ],
    swiftLanguageModes: [.v6]
)
