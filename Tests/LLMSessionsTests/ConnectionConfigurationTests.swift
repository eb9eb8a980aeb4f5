import Foundation
import Testing
@testable import LLMSessions

@Suite("Connection strings: environment and password masking")
struct ConnectionConfigurationTests {
    @Test("a URL's password is masked in the userinfo and in the query")
    func urlPasswordMasked() {
        let configuration = ConnectionConfiguration(
            connectionString: "postgresql://alice:s3cr%40t@db.example:5432/app?sslmode=require&password=other#frag")
        let description = configuration.description
        #expect(!description.contains("s3cr"))
        #expect(!description.contains("other"))
        #expect(description == "postgresql://alice:********@db.example:5432/app?sslmode=require&password=********#frag")
        #expect(configuration.connectionString.contains("s3cr%40t"), "libpq still gets the real password")
    }

    @Test("a URL without a password is shown unchanged")
    func urlWithoutPassword() {
        let url = "postgres://bob@localhost/llm_sessions?application_name=x"
        #expect(ConnectionConfiguration(connectionString: url).description == url)
    }

    @Test("keyword strings mask plain and quoted passwords", arguments: [
        ("host=db password=s3cret user=alice", "host=db password=******** user=alice"),
        ("host=db password = 's3 cr\\'et' dbname=x", "host=db password = ******** dbname=x"),
        ("password='' host=db", "password=******** host=db"),
        ("host=/tmp/sock port=5432 user=postgres", "host=/tmp/sock port=5432 user=postgres"),
    ])
    func keywordPasswordMasked(input: String, expected: String) {
        let description = ConnectionConfiguration(connectionString: input).description
        #expect(description == expected)
        #expect(!description.contains("s3"))
    }

    @Test("DATABASE_URL wins over PG* variables")
    func databaseURLWins() {
        let configuration = ConnectionConfiguration.fromEnvironment([
            "DATABASE_URL": "postgresql://u:pw@h/d", "PGHOST": "elsewhere", "PGUSER": "other",
        ])
        #expect(configuration.connectionString == "postgresql://u:pw@h/d")
        #expect(!configuration.description.contains("pw"))
    }

    @Test("PG* variables become keywords; the password stays hidden")
    func pgVariables() {
        let configuration = ConnectionConfiguration.fromEnvironment([
            "PGHOST": "/var/run/postgresql", "PGPORT": "5433", "PGDATABASE": "llm sessions",
            "PGPASSWORD": "hunter2", "HOME": "/root",
        ])
        let keywords = Set(configuration.connectionString.split(separator: " ", omittingEmptySubsequences: true).map(String.init))
        #expect(keywords.isSuperset(of: ["host=/var/run/postgresql", "port=5433", "password=hunter2"]))
        #expect(configuration.connectionString.contains("dbname='llm sessions'"))
        #expect(!configuration.description.contains("hunter2"))
    }

    @Test("no variables at all leaves everything to libpq")
    func emptyEnvironment() {
        let configuration = ConnectionConfiguration.fromEnvironment(["HOME": "/root", "DATABASE_URL": ""])
        #expect(configuration.connectionString == "")
        #expect(configuration.description == "(libpq defaults)")
    }

    @Test("a quoted PG* value reaches libpq intact")
    func quotedValueConnects() async throws {
        // The real server, reached through a keyword string built by fromEnvironment.
        let conninfo = try TestDatabase.setup.get()
        guard !conninfo.hasPrefix("postgres") else { return }  // the keyword form is what this checks
        var environment: [String: String] = [:]
        for pair in conninfo.split(separator: " ") {
            let parts = pair.split(separator: "=", maxSplits: 1).map(String.init)
            let variable = ["host": "PGHOST", "port": "PGPORT", "user": "PGUSER", "dbname": "PGDATABASE"][parts[0]]
            if let variable { environment[variable] = parts[1] }
        }
        environment["PGAPPNAME"] = "llm sessions 'quoted' test"
        let store = SessionStore(configuration: .fromEnvironment(environment), poolSize: 1)
        defer { Task { await store.close() } }
        let page = try await store.listSessions(agentRole: TestDatabase.uniqueID("nobody"), limit: 1)
        #expect(page.sessions.isEmpty)
    }
}
