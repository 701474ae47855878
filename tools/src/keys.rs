//! `kiosk-tools keys generate|rotate ENV`: an environment's token keys, made
//! (once, before its first deploy) or rotated, in the account and region of
//! the standard AWS settings (profile, `AWS_REGION`, ...). What `make keys`
//! and `make rotate-keys` run.
//!
//! Where the keys live and how a rotation keeps tokens working is
//! `kiosk_local::keys`, which does the work: the local bootstrap makes each
//! stack's keys with the same code, and the end-to-end tests rotate them.

use kiosk_local::keys::{BoxError, KeyNames};

/// The names template.yaml expects for `environment` (dev, prod): lower-case
/// letters, digits and dashes.
pub fn names_for(environment: &str) -> Result<KeyNames, BoxError> {
    if !environment
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        || environment.is_empty()
    {
        return Err(format!("{environment:?} is not an environment name (dev, prod)").into());
    }
    Ok(KeyNames::under(&format!("kiosk/{environment}")))
}

/// `keys generate ENV` / `keys rotate ENV`: `command` is `generate` or
/// `rotate`.
pub async fn main(command: &str, environment: &str) -> Result<(), BoxError> {
    let names = names_for(environment)?;
    let sdk = shared::config::aws().await;
    let public = if command == "generate" {
        kiosk_local::keys::generate(&sdk, &names).await?
    } else {
        kiosk_local::keys::rotate(&sdk, &names).await?
    };
    let kids: Vec<&str> = public.keys().iter().map(|k| k.kid.as_str()).collect();
    println!(
        "{command}: {} now holds the signing key {}; {} publishes {}.\n\
         Deploy {environment} now (make deploy ENV={environment}): the verifiers learn the new key at deploy time,\n\
         and until then tokens keep being signed with the key they know.",
        names.secret,
        kids[0],
        names.parameter,
        kids.join(", ")
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_environment_names_the_keys_template_yaml_expects() {
        let names = names_for("dev").unwrap();
        assert_eq!(names.secret, "kiosk/dev/token-signing-key");
        assert_eq!(names.parameter, "/kiosk/dev/token-public-keys");
        for bad in ["", "Prod", "dev/x", "../prod", "dev prod"] {
            assert!(names_for(bad).is_err(), "{bad}");
        }
    }
}
