import Foundation

/// What `cleanupStale` and `runCleanup` do with an idle session: keep it in the archive, or delete it for good.
public enum CleanupPolicy: String, Sendable, Codable, Hashable, CaseIterable {
    /// Move the session with its turns into the archive, whence `restoreSession` brings it back.
    case archive
    /// Delete the session with its turns.
    case delete
}
