import Foundation

/// The outcome of `cleanupStale` and `runCleanup`: how many idle sessions were removed, the idle limit, and how.
public struct CleanupResult: Sendable, Codable, Hashable {
    /// Number of sessions removed (archived or deleted, with their turns).
    public var removed: Int
    /// The idle time beyond which sessions were removed.
    public var maxIdle: Duration?
    /// Whether the removed sessions were archived or deleted.
    public var policy: CleanupPolicy

    /// Creates a cleanup result.
    public init(removed: Int, maxIdle: Duration?, policy: CleanupPolicy = .delete) {
        self.removed = removed
        self.maxIdle = maxIdle
        self.policy = policy
    }

    enum CodingKeys: String, CodingKey {
        case removed
        case maxIdle = "max_idle"
        case policy
    }
}
