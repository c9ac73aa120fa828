//! What `replay` and `run` check at startup beyond the values themselves: files they will read.
//! `check-config` calls the same function, so a configuration it accepts starts.

use super::{invalid, ConfigError, Settings};

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
            if let Err(e) = std::fs::read_to_string(path) {
                return Err(invalid(
                    "github.token_file",
                    format!("cannot read {}: {e}", path.display()),
                ));
            }
        }
        Ok(())
    }
}
