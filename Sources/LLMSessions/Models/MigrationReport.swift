import Foundation

/// What `migrate(sqlRoot:)` did, file by file.
public struct MigrationReport: Sendable, Codable, Hashable {
    /// One applied or skipped file.
    public struct Step: Sendable, Codable, Hashable {
        /// The file name without `.sql`, e.g. `0001_create_schema`.
        public var name: String
        /// `applied` (new), `updated` (an API file whose text changed) or `unchanged`.
        public var status: String
        /// SHA-256 of the file text, hex.
        public var checksum: String
        /// The migration's number (for `Migrations/` files; `nil` for API files).
        public var version: Int?

        /// Creates a step.
        public init(name: String, status: String, checksum: String, version: Int? = nil) {
            self.name = name
            self.status = status
            self.checksum = checksum
            self.version = version
        }
    }

    /// The `Migrations/*.sql` files in order.
    public var migrations: [Step]
    /// The `sql/api/*.sql` files in order.
    public var api: [Step]

    /// Creates a report.
    public init(migrations: [Step], api: [Step]) {
        self.migrations = migrations
        self.api = api
    }

    /// The steps, migrations first, that changed the database (`applied` or `updated`, not `unchanged`).
    public var applied: [Step] {
        (migrations + api).filter { $0.status != "unchanged" }
    }
}
