//! SIPE: the Microsoft extensions a Skype for Business phone needs on top of SIP.
//!
//! * [`ntlm`]: NTLM ([MS-NLMP]) messages, keys, responses and message signatures.
//! * [`sipae`]: [MS-SIPAE] security associations over NTLM (challenge, credentials,
//!   signed buffer, signing and verification for both ends).
//! * [`register`]: the sign-in (signed REGISTERs).
//! * [`provisioning`]: in-band provisioning ([MS-SIPREGE]) and the dial plan ([MS-SIPRE]).
//! * [`presence`]: category publication of presence state ([MS-PRES]).
//! * [`roaming`]: the roaming self subscription ([MS-PRES]) and its voicemail counts.
//! * [`services`]: provisioning, dial plan and presence after sign-in, sans-IO.
//! * [`diagnostics`]: failure responses and ms-diagnostics to the manual's notifications.
//! * [`server`]: a Skype for Business server double for tests.
//! * [`tlsdsk`]: [MS-SIPAE] security associations over TLS-DSK (feature `tls-dsk`).
//! * [`certprov`]: the Certificate Provisioning web service client (GetAndPublishCert).
//! * [`dsk_signin`]: sign-in with a provisioned certificate (extension + PIN, user
//!   credentials or an OAuth token) over TLS-DSK, with renewal before expiry.
//! * [`certprov_server`], [`tlsdsk_server`]: doubles of the service and the registrar.
//! * [`certprov_driver`]: the HTTPS POST for certificate provisioning (the only I/O here).
//! * [`oauth`]: online Web sign-in, the OAuth 2.0 device authorization grant (RFC 8628)
//!   and token refresh (RFC 6749 6), sans-IO; [`aad`]: an Azure AD double for tests.
//! * [`park`]: call park and retrieve ([MS-SIPAPP]): the ms-call-park bodies and the
//!   parker's side, sans-IO; [`cps`]: a Call Park Service double for tests.
//! * [`autodiscover`]: AutoDiscover ([MS-OCDISCWS]) of the SIP home server, sans-IO, with
//!   the fall back to DNS SRV; [`autodiscover_server`]: its double for tests.
#[cfg(feature = "tls-dsk")]
pub mod certprov;
#[cfg(all(feature = "tls-dsk", feature = "driver"))]
pub mod certprov_driver;
#[cfg(feature = "tls-dsk")]
pub mod certprov_server;
pub mod diagnostics;
#[cfg(feature = "tls-dsk")]
pub mod dsk_signin;
pub mod ntlm;
pub mod presence;
pub mod provisioning;
pub mod register;
pub mod roaming;
pub mod server;
pub mod services;
pub mod sipae;
#[cfg(feature = "tls-dsk")]
pub mod tlsdsk;
#[cfg(feature = "tls-dsk")]
pub mod tlsdsk_server;
pub mod xml;
// Online sign-in (OAuth 2.0 device authorization grant) and call park.
pub mod aad;
pub mod autodiscover;
pub mod autodiscover_server;
pub mod cps;
pub mod oauth;
pub mod park;
