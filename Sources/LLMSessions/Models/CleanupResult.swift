import Foundation

/// The outcome of `cleanupStale`: how many idle sessions were removed, and the idle limit used.
public struct CleanupResult: Sendable, Codable, Hashable {
    /// Number of sessions removed (with their turns).
    public var removed: Int
    /// The idle time beyond which sessions were removed.
    public var maxIdle: Duration?

    /// Creates a cleanup result.
    public init(removed: Int, maxIdle: Duration?) {
        self.removed = removed
        self.maxIdle = maxIdle
    }

    enum CodingKeys: String, CodingKey {
        case removed
        case maxIdle = "max_idle"
    }
}
