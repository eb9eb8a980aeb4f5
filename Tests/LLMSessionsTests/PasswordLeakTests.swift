import Foundation
import Testing
@testable import LLMSessions

/// Passwords never show: not in what the CLI prints (stdout or stderr) when it cannot connect
/// or the server refuses a call, whichever way the password was given (`--database-url` as a URL
/// or a keyword string, `DATABASE_URL`, `PGPASSWORD`), and not in the description of a
/// `ConnectionConfiguration` or of any error the library throws.
///
/// A real login role with a password is made for the suite (the local cluster asks every role
/// but postgres for one, scram-sha-256) and dropped at the end. Needs the keyword form of the
/// local server's conninfo to build the role's connection strings; with a `DATABASE_URL` the
/// server tests are skipped.
@Suite("Passwords never appear in output or errors", .serialized)
struct PasswordLeakTests {
    /// The parts of the local server's keyword conninfo (host is the socket folder).
    struct Server {
        var host: String
        var port: String
        var dbname: String
    }

    static let server: Server? = {
        guard let conninfo = try? TestDatabase.setup.get(), !conninfo.hasPrefix("postgres") else { return nil }
        var parts: [String: String] = [:]
        for pair in conninfo.split(separator: " ") {
            let kv = pair.split(separator: "=", maxSplits: 1).map(String.init)
            if kv.count == 2 { parts[kv[0]] = kv[1] }
        }
        guard let host = parts["host"], let port = parts["port"], let dbname = parts["dbname"] else { return nil }
        return Server(host: host, port: port, dbname: dbname)
    }()

    /// Creates a login role holding llm_app with `password`, runs `body`, and drops the role whatever happens.
    static func withLoginRole(password: String, _ body: (String) async throws -> Void) async throws {
        let role = TestDatabase.uniqueID("tap_pwleak").replacingOccurrences(of: "-", with: "_")
        try await TestDatabase.superuser(
            "SELECT format('CREATE ROLE %I LOGIN PASSWORD %L IN ROLE llm_app', $1::text, $2::text)", [role, password], thenExecute: true)
        var failure: (any Error)?
        do { try await body(role) } catch { failure = error }
        _ = try? await TestDatabase.superuser("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1", [role])
        try await TestDatabase.superuser("SELECT format('DROP ROLE %I', $1::text)", [role], thenExecute: true)
        if let failure { throw failure }
    }

    static func keywords(_ server: Server, user: String, password: String) -> String {
        "host=\(server.host) port=\(server.port) dbname=\(server.dbname) user=\(user) password=\(password)"
    }

    /// A postgresql:// URL to the socket: the host goes in the query, percent-encoded.
    static func url(_ server: Server, user: String, password: String) -> String {
        let host = server.host.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? server.host
        return "postgresql://\(user):\(password)@/\(server.dbname)?host=\(host)&port=\(server.port)"
    }

    /// A password that cannot be mistaken for anything else in the output.
    static func uniquePassword(_ label: String) -> String {
        "\(label)Pw\(UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(16))"
    }

    static func expectNoLeak(_ result: CLI.Result, _ password: String, _ label: String, status: Int32,
                             sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(result.status == status, "\(label): \(result)", sourceLocation: sourceLocation)
        #expect(!result.stdout.contains(password), "\(label): the password is on stdout", sourceLocation: sourceLocation)
        #expect(!result.stderr.contains(password), "\(label): the password is on stderr: \(result.stderr)", sourceLocation: sourceLocation)
        // Not even a long piece of it (a message that cut the value at a special character).
        #expect(!result.stderr.contains(password.suffix(12)), "\(label): part of the password is on stderr", sourceLocation: sourceLocation)
    }

    // MARK: - The CLI

    @Test("a wrong password, in --database-url (URL and keywords), DATABASE_URL or PGPASSWORD: exit 69, no password printed")
    func cliWrongPassword() async throws {
        guard let server = Self.server else { return }
        try await Self.withLoginRole(password: Self.uniquePassword("Right")) { role in
            let wrong = Self.uniquePassword("Wrong")
            let keywords = Self.keywords(server, user: role, password: wrong)
            let url = Self.url(server, user: role, password: wrong)
            let cases: [(String, [String], [String: String])] = [
                ("--database-url keywords", ["list", "--database-url", keywords], [:]),
                ("--database-url URL", ["show", "tap-none", "--database-url", url], [:]),
                ("--database-url URL, --json", ["list", "--json", "--database-url", url], [:]),
                ("DATABASE_URL", ["list"], ["DATABASE_URL": url]),
                ("DATABASE_URL keywords", ["stats"], ["DATABASE_URL": keywords]),
                ("PGPASSWORD", ["list"], ["PGHOST": server.host, "PGPORT": server.port, "PGDATABASE": server.dbname,
                                          "PGUSER": role, "PGPASSWORD": wrong]),
            ]
            for (label, arguments, environment) in cases {
                let result = try CLI.runWithoutDatabase(arguments, environment: environment)
                Self.expectNoLeak(result, wrong, label, status: 69)
                #expect(result.stderr.contains("password authentication failed"), "\(label): says why: \(result.stderr)")
            }
        }
    }

    @Test("an unreachable server named with a password: exit 69, no password printed")
    func cliUnreachable() throws {
        let password = Self.uniquePassword("Gone")
        for (label, target) in [
            ("keywords", "host=/nonexistent/llm-sessions-pw port=5 dbname=x user=u password=\(password) connect_timeout=2"),
            ("URL", "postgresql://u:\(password)@/x?host=%2Fnonexistent%2Fllm-sessions-pw&port=5"),
            ("URL to a closed TCP port", "postgresql://u:\(password)@127.0.0.1:1/x?connect_timeout=2"),
        ] {
            let result = try CLI.runWithoutDatabase(["list", "--database-url", target])
            Self.expectNoLeak(result, password, label, status: 69)
        }
    }

    @Test("a server error with the right password (42501 for a plain llm_app login): exit 70, no password printed")
    func cliServerError() async throws {
        guard let server = Self.server else { return }
        let password = Self.uniquePassword("Right")
        try await Self.withLoginRole(password: password) { role in
            for (label, target, environment) in [
                ("--database-url URL", Self.url(server, user: role, password: password), [String: String]()),
                ("--database-url keywords", Self.keywords(server, user: role, password: password), [:]),
            ] {
                let stats = try CLI.runWithoutDatabase(["stats", "--database-url", target], environment: environment)
                Self.expectNoLeak(stats, password, "stats, \(label)", status: 70)
                #expect(stats.stderr.contains("42501"), "\(stats)")
                let cleanup = try CLI.runWithoutDatabase(["cleanup", "--max-idle", "3650d", "--database-url", target])
                Self.expectNoLeak(cleanup, password, "cleanup, \(label)", status: 70)
                // And a refused argument (exit 65) and an unknown session (exit 3) through the same login.
                let bad = try CLI.runWithoutDatabase(["show", "tap-pw-none", "--last", "-1", "--database-url", target])
                #expect(!bad.stderr.contains(password) && !bad.stdout.contains(password), "\(bad)")
                let none = try CLI.runWithoutDatabase(["show", "tap-pw-none", "--database-url", target])
                Self.expectNoLeak(none, password, "show unknown, \(label)", status: 3)
            }
            let environmentRun = try CLI.runWithoutDatabase(["stats"], environment: ["DATABASE_URL": Self.url(server, user: role, password: password)])
            Self.expectNoLeak(environmentRun, password, "stats, DATABASE_URL", status: 70)
        }
    }

    @Test("a malformed URL: libpq quotes the URL, password included, in its error")
    func cliMalformedURL() throws {
        let password = Self.uniquePassword("Malformed")
        // libpq's own messages: 'invalid percent-encoded token: "<password>"' and, for an
        // unterminated IPv6 host, 'end of string reached when looking for matching "]" in IPv6 host
        // address in URI: "<the whole URI>"'. The client hands them on as connectionLost.
        for (label, target) in [
            ("a bad %-escape in the password", "postgresql://u:\(password)%zz@localhost/x"),
            ("an unterminated IPv6 host", "postgresql://u:\(password)@[::1/x"),
        ] {
            let result = try CLI.runWithoutDatabase(["list", "--database-url", target])
            #expect(result.status == 69, "\(label): \(result)")
            #expect(!result.stderr.contains(password), "\(label): \(result.stderr)")
        }
    }

    // MARK: - The library

    @Test("description and String(reflecting:) of a ConnectionConfiguration never show the password", arguments: [
        "postgresql://alice:%@db.example:5432/app",
        "postgresql://alice:%@db.example/app?sslmode=require&password=%",
        "postgres://alice:%@[::1]:5432/app",
        "host=db user=alice password=% dbname=app",
        "host=db password='%' dbname=app",
        "password=%",
    ])
    func configurationDescriptions(template: String) {
        let password = Self.uniquePassword("Cfg")
        let configuration = ConnectionConfiguration(connectionString: template.replacingOccurrences(of: "%", with: password))
        for text in [configuration.description, String(reflecting: configuration), "\(configuration)", String(describing: configuration)] {
            #expect(!text.contains(password), "\(text)")
            #expect(text.contains("********"), "the mask shows where the password was: \(text)")
        }
        let fromEnvironment = ConnectionConfiguration.fromEnvironment(["PGHOST": "db", "PGPASSWORD": password, "PGUSER": "alice"])
        #expect(!fromEnvironment.description.contains(password))
        #expect(!String(reflecting: fromEnvironment).contains(password))
    }

    @Test("the errors of a wrong password, an unreachable server and a refused call never show the password")
    func libraryErrors() async throws {
        let password = Self.uniquePassword("Lib")
        var errors: [(String, any Error)] = []
        func collect(_ label: String, _ body: () async throws -> Void) async {
            do {
                try await body()
                Issue.record("\(label): no error")
            } catch {
                errors.append((label, error))
            }
        }
        let unreachable = SessionStore(configuration: .init(
            connectionString: "postgresql://u:\(password)@/x?host=%2Fnonexistent%2Fllm-sessions-pw&port=5"), poolSize: 1)
        await collect("unreachable") { _ = try await unreachable.listSessions() }
        await unreachable.close()
        await collect("closed store") { _ = try await unreachable.listSessions() }

        if let server = Self.server {
            try await Self.withLoginRole(password: password) { role in
                let wrong = SessionStore(configuration: .init(connectionString: Self.keywords(server, user: role, password: password + "x")), poolSize: 1)
                await collect("wrong password") { _ = try await wrong.listSessions() }
                await wrong.close()
                let right = SessionStore(configuration: .init(connectionString: Self.url(server, user: role, password: password)), poolSize: 1)
                await collect("42501 stats") { _ = try await right.stats() }
                await collect("42501 cleanup") { _ = try await right.cleanupStale(maxIdle: .seconds(3650 * 86_400)) }
                await collect("22023") { _ = try await right.listSessions(limit: 0) }
                await collect("notFound") { try await right.appendTurn(to: "tap-pw-none", question: "q", response: "r") }
                #expect(!String(reflecting: right.configuration).contains(password))
                await right.close()
            }
            #expect(errors.count == 7)
        }
        for (label, error) in errors {
            for text in [String(describing: error), String(reflecting: error), "\(error)", error.localizedDescription] {
                #expect(!text.contains(password), "\(label): \(text)")
            }
        }
    }

    @Test("a malformed URL's connection error quotes the password (libpq), as the library passes it on")
    func libraryMalformedURL() async throws {
        let password = Self.uniquePassword("Bad")
        let store = SessionStore(configuration: .init(connectionString: "postgresql://u:\(password)%zz@localhost/x"), poolSize: 1)
        defer { Task { await store.close() } }
        do {
            _ = try await store.listSessions()
            Issue.record("connected with a malformed URL")
        } catch let error as SessionStoreError {
            guard case .connectionLost = error else { Issue.record("\(error)"); return }
            #expect(!String(describing: error).contains(password), "\(error)")
        }
        #expect(!store.configuration.description.contains(password), "the configuration itself masks it")
    }
}
