//! Test support (feature `testing`): a database of its own for each test, on either
//! backend, so one suite runs against both stores.

use tempfile::TempDir;

/// Which store a test runs on. PostgreSQL tests always run: against
/// USERORDER_TEST_POSTGRES_URL when set, else the machine's own server at
/// [`DEFAULT_POSTGRES_URL`] (any database on it: the harness creates and drops one database
/// per test). When no server answers they fail and say how to provide one. The only way to
/// leave them out is to build the tests with `RUSTFLAGS="--cfg userorder_no_postgres"`,
/// which marks them ignored, so the run reports them as skipped rather than passed.
#[derive(Debug, Clone)]
pub enum Backend {
    Sqlite,
    Postgres(String),
}

/// Runs each named `async fn(Backend)` as two tests, `sqlite` and `postgres` (see
/// [`Backend`] for where the PostgreSQL server comes from).
#[macro_export]
macro_rules! on_every_backend {
    ($($name:ident),+ $(,)?) => {
        $(
            mod $name {
                #[tokio::test]
                async fn sqlite() {
                    super::$name($crate::testing::Backend::Sqlite).await
                }

                #[tokio::test]
                #[cfg_attr(userorder_no_postgres, ignore = "built with --cfg userorder_no_postgres")]
                async fn postgres() {
                    super::$name($crate::testing::Backend::postgres()).await
                }
            }
        )+
    };
}

pub const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

impl Backend {
    pub fn postgres() -> Self {
        let url = std::env::var("USERORDER_TEST_POSTGRES_URL")
            .ok()
            .filter(|u| !u.is_empty())
            .unwrap_or_else(|| DEFAULT_POSTGRES_URL.to_owned());
        Self::Postgres(url)
    }
}

fn no_postgres(url: &str, error: &dyn std::fmt::Display) -> ! {
    panic!(
        "the PostgreSQL tests need a server at {url} and none answered ({error}). Start the \
         machine's own (`pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main \
         start`), point USERORDER_TEST_POSTGRES_URL at another server (any database on a \
         server where you may create databases), or leave these tests out explicitly by \
         building them with RUSTFLAGS=\"--cfg userorder_no_postgres\" (they then show as \
         skipped)"
    )
}

/// A database of its own for one test: a SQLite file in a temporary directory, or a
/// PostgreSQL database created now and dropped with this value.
pub struct TestDb {
    pub url: String,
    _dir: Option<TempDir>,
    postgres: Option<(String, String)>,
}

impl TestDb {
    pub async fn create(backend: &Backend) -> Self {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite://{}", dir.path().join("userorder.db").display());
                Self {
                    url,
                    _dir: Some(dir),
                    postgres: None,
                }
            }
            Backend::Postgres(admin_url) => {
                let name = format!("userorder_test_{:016x}", rand::random::<u64>());
                let mut admin =
                    match <sqlx::PgConnection as sqlx::Connection>::connect(admin_url).await {
                        Ok(admin) => admin,
                        Err(e) => no_postgres(admin_url, &e),
                    };
                sqlx::query(&format!("CREATE DATABASE {name}"))
                    .execute(&mut admin)
                    .await
                    .expect("create database");
                let url = match admin_url.rsplit_once('/') {
                    Some((server, _)) => format!("{server}/{name}"),
                    None => panic!("USERORDER_TEST_POSTGRES_URL needs a /database part"),
                };
                Self {
                    url,
                    _dir: None,
                    postgres: Some((admin_url.clone(), name)),
                }
            }
        }
    }

    /// Runs raw SQL on the test's database, behind the server's back.
    pub async fn execute(&self, sql: &str) {
        if self.postgres.is_some() {
            let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&self.url)
                .await
                .expect("connect");
            sqlx::query(sql).execute(&mut conn).await.expect("sql");
        } else {
            let mut conn = <sqlx::SqliteConnection as sqlx::Connection>::connect(&self.url)
                .await
                .expect("connect");
            sqlx::query(sql).execute(&mut conn).await.expect("sql");
        }
    }
}

impl TestDb {
    /// The first column of the first row of a PostgreSQL query, as i64.
    pub async fn postgres_scalar(&self, sql: &str) -> i64 {
        let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&self.url)
            .await
            .expect("connect");
        sqlx::query_scalar(sql)
            .fetch_one(&mut conn)
            .await
            .expect("sql")
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some((admin_url, name)) = self.postgres.take() else {
            return;
        };
        // Drop is not async: a thread with a runtime of its own drops the database.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            if let Ok(runtime) = runtime {
                runtime.block_on(async {
                    if let Ok(mut admin) =
                        <sqlx::PgConnection as sqlx::Connection>::connect(&admin_url).await
                    {
                        let _ =
                            sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                                .execute(&mut admin)
                                .await;
                    }
                });
            }
        })
        .join();
    }
}
