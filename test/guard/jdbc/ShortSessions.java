// Short pgJDBC sessions, the way a JDBC tool opens them: connect, one query, close.
// Used by test/guard/jdbc.test.ts and bench/guard-jdbc.ts with Debian's libpostgresql-jdbc-java.
//   java -cp /usr/share/java/postgresql.jar ShortSessions.java URL USER COUNT PAUSE_MS [property=value ...]
// The password comes from the PGPASSWORD environment variable (never argv). PAUSE_MS waits between
// login and the first query (0: a short session). Prints one line per session:
//   <backend pid> <login epoch ms> rows|error <SQLSTATE> <message>
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Properties;

public class ShortSessions {
  public static void main(String[] args) throws Exception {
    String url = args[0];
    int count = Integer.parseInt(args[2]);
    long pauseMs = Long.parseLong(args[3]);
    Properties properties = new Properties();
    properties.setProperty("user", args[1]);
    properties.setProperty("password", System.getenv("PGPASSWORD"));
    for (int i = 4; i < args.length; i++) {
      String[] pair = args[i].split("=", 2);
      properties.setProperty(pair[0], pair[1]);
    }
    for (int i = 0; i < count; i++) {
      int pid = -1;
      long loginAt = 0;
      String outcome;
      try (Connection connection = DriverManager.getConnection(url, properties)) {
        loginAt = System.currentTimeMillis();
        pid = connection.unwrap(org.postgresql.PGConnection.class).getBackendPID();
        if (pauseMs > 0) Thread.sleep(pauseMs);
        try (Statement statement = connection.createStatement(); ResultSet rows = statement.executeQuery("SELECT 1")) {
          outcome = rows.next() ? "rows" : "norows";
        }
      } catch (SQLException e) {
        outcome = "error " + e.getSQLState() + " " + String.valueOf(e.getMessage()).replace('\n', ' ');
      }
      System.out.println(pid + " " + loginAt + " " + outcome);
    }
  }
}
