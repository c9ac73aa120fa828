//! What `replay` and `run` check at startup beyond the values themselves: files they will read.
//! `check-config` calls the same function, so a configuration it accepts starts.

use std::io::Read;

use super::{invalid, ConfigError, Settings};

/// A GitHub token is under 100 bytes; a token file past this is something else.
const MAX_TOKEN_BYTES: u64 = 64 << 10;

impl Settings {
    /// The checks that need the outside world: the GitHub token file must be readable unless
    /// `GITHUB_TOKEN` (passed in as `github_token_env`) is set, because that is the order in
    /// which `replay` and `run` look for the token. An empty file is not an error: like a
    /// missing token it means a dry run. The token itself is never part of an error.
    pub fn check_runtime(&self, github_token_env: Option<&str>) -> Result<(), ConfigError> {
        let Some(g) = &self.github else {
            return Ok(());
        };
        let env_token = github_token_env.is_some_and(|t| !t.trim().is_empty());
        if let (false, Some(path)) = (env_token, &g.token_file) {
            // Read up to a bound: a device (`/dev/zero`) named by mistake is no token.
            let mut text = String::new();
            let read = std::fs::File::open(path)
                .and_then(|f| f.take(MAX_TOKEN_BYTES + 1).read_to_string(&mut text));
            let why = match read {
                Err(e) => e.to_string(),
                Ok(n) if n as u64 > MAX_TOKEN_BYTES => {
                    format!("larger than {} KiB: not a token", MAX_TOKEN_BYTES >> 10)
                }
                Ok(_) => return Ok(()),
            };
            return Err(invalid(
                "github.token_file",
                format!("cannot read {}: {why}", path.display()),
            ));
        }
        Ok(())
    }
}
