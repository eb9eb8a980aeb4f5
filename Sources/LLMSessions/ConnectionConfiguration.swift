import Foundation

/// Where and how to connect to PostgreSQL: a libpq connection string that never prints its password.
///
/// Accepts both forms libpq understands, a `postgresql://` (or `postgres://`) URL and a keyword
/// string such as `host=/run/postgresql port=5432 dbname=llm_sessions`. An empty string means
/// "libpq defaults": libpq then reads the `PG*` environment variables and `~/.pgpass` itself.
public struct ConnectionConfiguration: Sendable, Hashable, CustomStringConvertible {
    /// The connection string exactly as given, password included; handed to libpq unchanged.
    public let connectionString: String

    /// Creates a configuration from a `postgresql://` URL or a libpq keyword string.
    public init(connectionString: String) {
        self.connectionString = connectionString
    }

    /// Reads the standard environment: `DATABASE_URL` when set, otherwise the libpq `PG*` variables.
    ///
    /// The `PG*` variables found in `environment` (`PGHOST`, `PGPORT`, `PGUSER`, `PGPASSWORD`,
    /// `PGDATABASE`, ...) are turned into a keyword string, so a dictionary other than the process
    /// environment is honoured too; anything not given there is left to libpq's own defaults.
    public static func fromEnvironment(
        _ environment: [String: String] = ProcessInfo.processInfo.environment
    ) -> ConnectionConfiguration {
        if let url = environment["DATABASE_URL"], !url.trimmingCharacters(in: .whitespaces).isEmpty {
            return ConnectionConfiguration(connectionString: url)
        }
        let pairs = libpqEnvironmentKeywords.compactMap { variable, keyword -> String? in
            guard let value = environment[variable], !value.isEmpty else { return nil }
            return "\(keyword)=\(Self.quoteKeywordValue(value))"
        }
        return ConnectionConfiguration(connectionString: pairs.joined(separator: " "))
    }

    /// The connection string with any password replaced by `********`.
    public var description: String {
        if connectionString.isEmpty { return "(libpq defaults)" }
        if Self.isURL(connectionString) { return Self.maskURL(connectionString) }
        return Self.maskKeywords(connectionString)
    }

    // MARK: - Environment

    /// libpq's environment variables and the keyword each stands for (subset libpq documents).
    private static let libpqEnvironmentKeywords: [(String, String)] = [
        ("PGHOST", "host"), ("PGHOSTADDR", "hostaddr"), ("PGPORT", "port"),
        ("PGDATABASE", "dbname"), ("PGUSER", "user"), ("PGPASSWORD", "password"),
        ("PGPASSFILE", "passfile"), ("PGSERVICE", "service"), ("PGOPTIONS", "options"),
        ("PGAPPNAME", "application_name"), ("PGSSLMODE", "sslmode"),
        ("PGSSLROOTCERT", "sslrootcert"), ("PGSSLCERT", "sslcert"), ("PGSSLKEY", "sslkey"),
        ("PGCONNECT_TIMEOUT", "connect_timeout"), ("PGTARGETSESSIONATTRS", "target_session_attrs"),
    ]

    /// Quotes a keyword value the way libpq's parser expects: single quotes, `\'` and `\\` escapes.
    static func quoteKeywordValue(_ value: String) -> String {
        let needsQuotes = value.isEmpty || value.contains { $0.isWhitespace || $0 == "'" || $0 == "\\" }
        guard needsQuotes else { return value }
        let escaped = value.replacingOccurrences(of: "\\", with: "\\\\")
            .replacingOccurrences(of: "'", with: "\\'")
        return "'\(escaped)'"
    }

    // MARK: - Masking

    private static let mask = "********"

    private static func isURL(_ string: String) -> Bool {
        let trimmed = string.drop { $0.isWhitespace }
        return trimmed.hasPrefix("postgresql://") || trimmed.hasPrefix("postgres://")
    }

    /// Masks the password in the userinfo (`user:secret@`) and in a `password=` query parameter.
    private static func maskURL(_ url: String) -> String {
        guard let schemeEnd = url.range(of: "://") else { return url }
        let scheme = url[..<schemeEnd.upperBound]
        var rest = Substring(url[schemeEnd.upperBound...])

        // Authority ends at the first '/', '?' or '#'; the userinfo is everything before its last '@'.
        let authorityEnd = rest.firstIndex { $0 == "/" || $0 == "?" || $0 == "#" } ?? rest.endIndex
        var authority = String(rest[..<authorityEnd])
        rest = rest[authorityEnd...]
        if let at = authority.lastIndex(of: "@") {
            let userinfo = authority[..<at]
            if let colon = userinfo.firstIndex(of: ":") {
                authority = String(userinfo[..<colon]) + ":" + mask + String(authority[at...])
            }
        }

        var path = String(rest)
        if let question = path.firstIndex(of: "?") {
            let fragmentStart = path[question...].firstIndex(of: "#") ?? path.endIndex
            let query = path[path.index(after: question)..<fragmentStart]
            let masked = query.split(separator: "&", omittingEmptySubsequences: false).map { item -> String in
                let key = item.split(separator: "=", maxSplits: 1).first.map(String.init) ?? ""
                return key.lowercased() == "password" ? "\(key)=\(mask)" : String(item)
            }
            path = String(path[...question]) + masked.joined(separator: "&") + String(path[fragmentStart...])
        }
        return scheme + authority + path
    }

    /// Masks the value of every `password` keyword, quoted or not, keeping the rest verbatim.
    private static func maskKeywords(_ string: String) -> String {
        var output = ""
        var index = string.startIndex
        func skipSpaces() {
            while index < string.endIndex, string[index].isWhitespace {
                output.append(string[index])
                index = string.index(after: index)
            }
        }
        while index < string.endIndex {
            skipSpaces()
            guard index < string.endIndex else { break }
            let keyStart = index
            while index < string.endIndex, string[index] != "=", !string[index].isWhitespace {
                index = string.index(after: index)
            }
            let key = string[keyStart..<index]
            output += key
            skipSpaces()
            guard index < string.endIndex, string[index] == "=" else { continue }
            output.append("=")
            index = string.index(after: index)
            skipSpaces()
            // The value: quoted with '...' and backslash escapes, or up to the next whitespace.
            let valueStart = index
            if index < string.endIndex, string[index] == "'" {
                index = string.index(after: index)
                while index < string.endIndex, string[index] != "'" {
                    if string[index] == "\\" { index = string.index(after: index) }
                    if index < string.endIndex { index = string.index(after: index) }
                }
                if index < string.endIndex { index = string.index(after: index) }
            } else {
                while index < string.endIndex, !string[index].isWhitespace {
                    if string[index] == "\\" { index = string.index(after: index) }
                    if index < string.endIndex { index = string.index(after: index) }
                }
            }
            output += key == "password" ? mask : String(string[valueStart..<index])
        }
        return output
    }
}
