//! The registry of deployed functions: every function's durable record and the runnable
//! entries built from it, and how a name and qualifier resolve to one entry. It owns only
//! this map; what is persisted, prepared or invoked is decided elsewhere.

use crate::entry::{FunctionEntry, FunctionState, PoolKey};
use crate::error::NotFound;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

#[derive(Default)]
pub(crate) struct Functions {
    /// A std lock: held only for map operations, never across `.await`.
    map: RwLock<HashMap<String, FunctionState>>,
    /// The generation of the next prepared version (part of its pool key).
    generation: AtomicU64,
}

impl Functions {
    pub(crate) fn read(&self) -> RwLockReadGuard<'_, HashMap<String, FunctionState>> {
        // Entries are replaced whole under the write lock; a panic elsewhere cannot leave one
        // torn, so a poisoned lock still guards consistent data.
        self.map.read().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn write(&self) -> RwLockWriteGuard<'_, HashMap<String, FunctionState>> {
        self.map.write().unwrap_or_else(|e| e.into_inner())
    }

    /// A pool key no version prepared before has: an update never hands an old sandbox to a
    /// new configuration.
    pub(crate) fn new_key(&self, name: &str) -> PoolKey {
        (
            name.to_owned(),
            self.generation.fetch_add(1, Ordering::Relaxed) + 1,
        )
    }

    /// The entry a qualifier names (`None` and `$LATEST`: latest; a number: that version;
    /// else an alias), and the ARN the caller used for it; `arn` is the function's.
    pub(crate) fn resolve(
        &self,
        name: &str,
        qualifier: Option<&str>,
        arn: &str,
    ) -> Result<(Arc<FunctionEntry>, String), NotFound> {
        let functions = self.read();
        let not_found = |q: Option<&str>| NotFound {
            arn: match q {
                Some(q) => format!("{arn}:{q}"),
                None => arn.to_owned(),
            },
        };
        let state = functions.get(name).ok_or_else(|| not_found(None))?;
        match qualifier {
            None => Ok((state.latest.clone(), arn.to_owned())),
            Some("$LATEST") => Ok((state.latest.clone(), format!("{arn}:$LATEST"))),
            Some(q) if q.bytes().all(|b| b.is_ascii_digit()) => {
                let n: u64 = q.parse().map_err(|_| not_found(Some(q)))?;
                let entry = state.versions.get(&n).ok_or_else(|| not_found(Some(q)))?;
                Ok((entry.clone(), format!("{arn}:{q}")))
            }
            Some(q) => {
                let alias = state
                    .record
                    .aliases
                    .get(q)
                    .ok_or_else(|| not_found(Some(q)))?;
                let entry = match alias.function_version.as_str() {
                    "$LATEST" => state.latest.clone(),
                    v => v
                        .parse::<u64>()
                        .ok()
                        .and_then(|n| state.versions.get(&n))
                        .cloned()
                        .ok_or_else(|| not_found(Some(q)))?,
                };
                Ok((entry, format!("{arn}:{q}")))
            }
        }
    }

    /// MB of MemorySize that `counts` sandboxes of each named function take, at its
    /// `$LATEST` MemorySize (a function not found takes none).
    pub(crate) fn memory_of_sandboxes<'a>(
        &self,
        counts: impl Iterator<Item = (&'a str, u32)>,
    ) -> u64 {
        let functions = self.read();
        counts
            .map(|(name, n)| {
                functions
                    .get(name)
                    .map_or(0, |s| u64::from(s.latest.config.memory_size) * u64::from(n))
            })
            .sum()
    }
}

#[cfg(test)]
mod tests {
    //! The registry alone: entries of the process backend over a one-line `bootstrap`, no
    //! engine, no server.
    use super::*;
    use crate::function::FunctionConfiguration;
    use crate::metrics::Metrics;
    use crate::record::{AliasConfiguration, FunctionRecord, VersionRecord};
    use hearth_sandbox::{Entrypoint, Function, HostMemory, Isolation, ProcessFunction};
    use std::collections::BTreeMap;

    const ARN: &str = "arn:aws:lambda:us-east-1:000000000000:function:f";

    fn config(version: &str, memory: u32) -> FunctionConfiguration {
        serde_json::from_value(serde_json::json!({
            "FunctionName": "f", "FunctionArn": ARN, "Runtime": "provided.al2023",
            "Role": "", "Handler": "bootstrap", "CodeSize": 1, "Description": "",
            "Timeout": 3, "MemorySize": memory, "LastModified": "", "CodeSha256": "",
            "Version": version, "Environment": {"Variables": {}}, "State": "Active",
            "LastUpdateStatus": "Successful", "RevisionId": "", "PackageType": "Zip",
            "Architectures": ["x86_64"], "EphemeralStorage": {"Size": 512},
        }))
        .expect("configuration")
    }

    fn entry(
        functions: &Functions,
        dir: &std::path::Path,
        version: &str,
        memory: u32,
    ) -> Arc<FunctionEntry> {
        use std::os::unix::fs::PermissionsExt;
        let bootstrap = dir.join("bootstrap");
        std::fs::write(&bootstrap, "#!/bin/sh\n").expect("bootstrap");
        std::fs::set_permissions(&bootstrap, std::fs::Permissions::from_mode(0o755))
            .expect("chmod");
        let config = config(version, memory);
        let settings = hearth_sandbox::FunctionSettings {
            function_name: "f".into(),
            version: version.into(),
            memory_mb: u64::from(memory),
            timeout: std::time::Duration::from_secs(3),
            handler: "bootstrap".into(),
            region: "us-east-1".into(),
            initialization_type: "on-demand".into(),
            environment: Vec::new(),
            tmp_root: dir.join("tmp"),
            tmp_limit_mb: 512,
            execution_env: None,
        };
        let code = ProcessFunction::prepare(
            Arc::new(Isolation::minimal()),
            Arc::new(HostMemory::unlimited()),
            dir.to_path_buf(),
            Entrypoint::Bootstrap,
            settings,
        )
        .expect("prepare");
        Arc::new(FunctionEntry {
            key: functions.new_key("f"),
            metrics: Metrics::new().function("f"),
            code: Function::Process(code),
            config,
            restored: false,
        })
    }

    fn registry() -> (Functions, tempfile::TempDir) {
        let dir = tempfile::tempdir().expect("dir");
        let functions = Functions::default();
        let latest = entry(&functions, dir.path(), "$LATEST", 256);
        let one = entry(&functions, dir.path(), "1", 128);
        let record = FunctionRecord {
            name: "f".into(),
            latest: VersionRecord {
                config: latest.config.clone(),
                code_hash: "h".into(),
                snapshot: None,
            },
            versions: BTreeMap::from([(
                1,
                VersionRecord {
                    config: one.config.clone(),
                    code_hash: "h".into(),
                    snapshot: None,
                },
            )]),
            next_version: 2,
            aliases: BTreeMap::from([(
                "live".to_owned(),
                AliasConfiguration {
                    alias_arn: format!("{ARN}:live"),
                    name: "live".into(),
                    function_version: "1".into(),
                    description: String::new(),
                    revision_id: String::new(),
                },
            )]),
            reserved_concurrency: None,
            event_invoke_configs: BTreeMap::new(),
            provisioned: BTreeMap::new(),
            tags: BTreeMap::new(),
        };
        functions.write().insert(
            "f".into(),
            FunctionState {
                record,
                latest,
                versions: BTreeMap::from([(1, one)]),
            },
        );
        (functions, dir)
    }

    #[test]
    fn qualifiers_resolve_to_latest_versions_and_aliases_with_the_arn_used() {
        let (functions, _dir) = registry();
        let (e, arn) = functions.resolve("f", None, ARN).expect("latest");
        assert_eq!((e.config.version.as_str(), arn.as_str()), ("$LATEST", ARN));
        let (e, arn) = functions
            .resolve("f", Some("$LATEST"), ARN)
            .expect("latest");
        assert_eq!(e.config.version, "$LATEST");
        assert_eq!(arn, format!("{ARN}:$LATEST"));
        let (e, arn) = functions.resolve("f", Some("1"), ARN).expect("version");
        assert_eq!((e.config.version.as_str(), arn), ("1", format!("{ARN}:1")));
        let (e, arn) = functions.resolve("f", Some("live"), ARN).expect("alias");
        assert_eq!(
            (e.config.version.as_str(), arn),
            ("1", format!("{ARN}:live"))
        );
    }

    #[test]
    fn what_does_not_exist_is_not_found_with_the_arn_asked_for() {
        let (functions, _dir) = registry();
        for q in ["2", "dead", "99999999999999999999999"] {
            let e = functions.resolve("f", Some(q), ARN).expect_err(q);
            assert_eq!(e.arn, format!("{ARN}:{q}"));
        }
        let other = "arn:aws:lambda:us-east-1:000000000000:function:g";
        assert_eq!(
            functions.resolve("g", None, other).expect_err("g").arn,
            other
        );
    }

    #[test]
    fn every_prepared_version_gets_a_new_pool_key() {
        let (functions, _dir) = registry();
        let a = functions.new_key("f");
        let b = functions.new_key("f");
        assert_ne!(a, b);
        let read = functions.read();
        let state = &read["f"];
        assert_ne!(state.latest.key, state.versions[&1].key);
    }

    #[test]
    fn memory_of_sandboxes_counts_latest_memory_size() {
        let (functions, _dir) = registry();
        assert_eq!(
            functions.memory_of_sandboxes([("f", 3), ("missing", 5)].into_iter()),
            768
        );
    }
}
