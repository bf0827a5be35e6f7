//! SIPE: the Microsoft extensions a Skype for Business phone needs on top of SIP.
//!
//! * [`ntlm`]: NTLM ([MS-NLMP]) messages, keys, responses and message signatures.
pub mod ntlm;
