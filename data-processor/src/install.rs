//! `data-processor install <path>`: copies this (static) binary to `<path>`. A command kind's
//! init container runs it into an `emptyDir` shared with the kind's own image, whose container
//! then starts the worker from there (the pattern of Argo Workflows' emissary executor), so the
//! kind's image needs nothing installed.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::ExitCode;

/// Copies the running executable to `dest` (written beside it, then renamed: a reader never sees
/// half a binary), mode 0755.
pub fn install(dest: &Path) -> ExitCode {
    match copy_self(dest) {
        Ok(bytes) => {
            println!("installed the worker at {} ({bytes} bytes)", dest.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("cannot install the worker at {}: {e}", dest.display());
            ExitCode::from(jobs_runtime::exit::CONFIG)
        }
    }
}

fn copy_self(dest: &Path) -> std::io::Result<u64> {
    let exe = std::env::current_exe()?;
    let mut tmp = dest.as_os_str().to_owned();
    tmp.push(".partial");
    let tmp = Path::new(&tmp);
    let bytes = std::fs::copy(&exe, tmp)?;
    std::fs::set_permissions(tmp, std::fs::Permissions::from_mode(0o755))?;
    std::fs::File::open(tmp)?.sync_all()?;
    std::fs::rename(tmp, dest)?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_the_running_binary_whole_and_executable() {
        let dir = std::env::temp_dir().join(format!("install-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let dest = dir.join("data-processor");
        assert_eq!(install(&dest), ExitCode::SUCCESS);
        let exe = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), exe);
        assert_eq!(std::fs::metadata(&dest).unwrap().permissions().mode() & 0o777, 0o755);
        assert!(!dir.join("data-processor.partial").exists());
        assert_ne!(install(&dir.join("missing/dir/x")), ExitCode::SUCCESS);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
