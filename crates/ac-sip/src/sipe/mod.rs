//! SIPE: the Microsoft extensions a Skype for Business phone needs on top of SIP.
//!
//! * [`ntlm`]: NTLM ([MS-NLMP]) messages, keys, responses and message signatures.
//! * [`sipae`]: [MS-SIPAE] security associations over NTLM (challenge, credentials,
//!   signed buffer, signing and verification for both ends).
pub mod ntlm;
pub mod register;
pub mod server;
pub mod sipae;
