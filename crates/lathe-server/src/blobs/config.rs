//! `--store s3://BUCKET[/prefix]` and the S3 client it makes: credentials, region and endpoint
//! from the standard environment variables (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
//! `AWS_REGION`, `AWS_ENDPOINT_URL`), plain http only when the endpoint says `http://`.

use std::sync::Arc;

use object_store::aws::AmazonS3Builder;
use object_store::{ClientOptions, ObjectStore, RetryConfig};

use super::{BlobError, BlobResult, REQUEST_TIMEOUT};

/// A bucket and the prefix inside it under which lathe keeps its objects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreUrl {
    pub bucket: String,
    /// Without leading or trailing `/`; empty for the bucket's root.
    pub prefix: String,
}

impl StoreUrl {
    /// `s3://BUCKET` or `s3://BUCKET/some/prefix`.
    pub fn parse(url: &str) -> BlobResult<Self> {
        let rest = url.strip_prefix("s3://").ok_or_else(|| {
            BlobError::Config(format!(
                "--store takes s3://BUCKET[/prefix] (files stay in the data folder without it), got {url:?}"
            ))
        })?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        // S3's rule for bucket names (3–63 of a-z, 0-9, '.', '-'; a letter or digit first).
        let valid = (3..=63).contains(&bucket.len())
            && bucket
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-')
            && bucket.starts_with(|c: char| c.is_ascii_alphanumeric());
        if !valid {
            return Err(BlobError::Config(format!(
                "{bucket:?} is not an S3 bucket name (3 to 63 of a-z, 0-9, '.' and '-')"
            )));
        }
        let prefix = prefix.trim_matches('/').to_string();
        if prefix.split('/').any(|s| s == "." || s == "..") {
            return Err(BlobError::Config(format!("bad prefix in {url:?}")));
        }
        Ok(Self {
            bucket: bucket.to_string(),
            prefix,
        })
    }

    /// `s3://bucket/prefix`, as messages name it.
    pub fn display(&self) -> String {
        match self.prefix.as_str() {
            "" => format!("s3://{}", self.bucket),
            p => format!("s3://{}/{p}", self.bucket),
        }
    }
}

/// How to reach and sign in to the S3 server.
#[derive(Clone)]
pub struct S3Access {
    pub key_id: String,
    pub secret: String,
    pub region: String,
    /// `http(s)://host:port` of a self-hosted server; `None`: AWS.
    pub endpoint: Option<String>,
}

impl S3Access {
    /// From `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION` (or
    /// `AWS_DEFAULT_REGION`; else `us-east-1`, which self-hosted servers accept when set up
    /// so) and `AWS_ENDPOINT_URL`.
    pub fn from_env() -> BlobResult<Self> {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let need = |k: &str| var(k).ok_or_else(|| BlobError::Config(format!("{k} is not set")));
        Ok(Self {
            key_id: need("AWS_ACCESS_KEY_ID")?,
            secret: need("AWS_SECRET_ACCESS_KEY")?,
            region: var("AWS_REGION")
                .or_else(|| var("AWS_DEFAULT_REGION"))
                .unwrap_or_else(|| "us-east-1".into()),
            endpoint: var("AWS_ENDPOINT_URL"),
        })
    }
}

/// The client for `url` and the name its errors use.
pub(super) fn build(
    url: &StoreUrl,
    access: &S3Access,
) -> BlobResult<(Arc<dyn ObjectStore>, String)> {
    let name = url.display();
    // A failure is retried a few times, briefly: a worker retries the whole job later, and a
    // process starting against a wrong endpoint should say so within seconds.
    let retry = RetryConfig {
        max_retries: 3,
        retry_timeout: std::time::Duration::from_secs(15),
        ..Default::default()
    };
    let plain_http = access
        .endpoint
        .as_deref()
        .is_some_and(|e| e.starts_with("http://"));
    let options = ClientOptions::new()
        .with_connect_timeout(std::time::Duration::from_secs(5))
        .with_timeout(REQUEST_TIMEOUT)
        .with_allow_http(plain_http);
    let mut builder = AmazonS3Builder::new()
        .with_bucket_name(&url.bucket)
        .with_access_key_id(&access.key_id)
        .with_secret_access_key(&access.secret)
        .with_region(&access.region)
        .with_client_options(options)
        .with_retry(retry);
    if let Some(endpoint) = &access.endpoint {
        // Path-style requests (http://host/bucket/key): what self-hosted servers answer.
        builder = builder
            .with_endpoint(endpoint)
            .with_virtual_hosted_style_request(false);
    }
    let s3 = builder
        .build()
        .map_err(|e| BlobError::Config(format!("{name}: {e}")))?;
    let store: Arc<dyn ObjectStore> = match url.prefix.as_str() {
        "" => Arc::new(s3),
        p => Arc::new(object_store::prefix::PrefixStore::new(s3, p)),
    };
    Ok((store, name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_urls() {
        let u = StoreUrl::parse("s3://studio-masters/lathe/prod/").unwrap();
        assert_eq!(
            (u.bucket.as_str(), u.prefix.as_str()),
            ("studio-masters", "lathe/prod")
        );
        assert_eq!(u.display(), "s3://studio-masters/lathe/prod");
        assert_eq!(StoreUrl::parse("s3://abc").unwrap().prefix, "");
        for bad in [
            "/srv/data",
            "s3://",
            "s3://Ab",
            "s3://a_b_c",
            "s3://ok-bucket/../x",
        ] {
            assert!(StoreUrl::parse(bad).is_err(), "{bad}");
        }
    }
}
