//! E-mail through Amazon SES v2 (SendEmail, simple content) from the one
//! sender identity the template names (`SES_SENDER`); the function may send
//! from nothing else. Locally the emulator's SES keeps what was sent.

use crate::domain::verification::{CODE_TTL_SECONDS, OneTimeCode};
use crate::store::sdk::from_sdk;
use crate::{Error, Result};
use aws_sdk_sesv2::Client;
use aws_sdk_sesv2::types::{Body, Content, Destination, EmailContent, Message};

#[derive(Clone)]
pub struct Mailer {
    client: Client,
    sender: String,
}

fn content(text: impl Into<String>) -> Result<Content> {
    Content::builder()
        .data(text)
        .charset("UTF-8")
        .build()
        .map_err(Error::internal)
}

impl Mailer {
    pub fn new(client: Client, sender: impl Into<String>) -> Self {
        Self {
            client,
            sender: sender.into(),
        }
    }

    /// Mails `code` to `address`. SES refusing the message (an address it
    /// will not deliver to, a sender not verified, sending paused) is a
    /// dependency failure, 503, like SES being down: the customer may ask
    /// again.
    pub async fn send_code(&self, address: &str, code: &OneTimeCode) -> Result<()> {
        let minutes = CODE_TTL_SECONDS / 60;
        let body = format!(
            "Seu código de verificação é {code}.\n\
             Ele vale por {minutes} minutos. Se você não pediu este código, ignore esta mensagem.\n\n\
             Your verification code is {code}. It is valid for {minutes} minutes.\n",
            code = code.as_str()
        );
        let message = Message::builder()
            // The code in the body only: subjects show on lock screens.
            .subject(content("Seu código de verificação")?)
            .body(Body::builder().text(content(body)?).build())
            .build();
        let sent = self
            .client
            .send_email()
            .from_email_address(&self.sender)
            .destination(Destination::builder().to_addresses(address).build())
            .content(EmailContent::builder().simple(message).build())
            .send()
            .await;
        match sent {
            Ok(_) => Ok(()),
            // SES's messages may quote the address: only its error code is kept.
            Err(e) if e.as_service_error().is_some() => {
                use aws_sdk_sesv2::error::ProvideErrorMetadata;
                let code = e.code().unwrap_or("unknown").to_owned();
                Err(Error::Unavailable(
                    format!("SES refused the verification e-mail: {code}").into(),
                ))
            }
            Err(e) => Err(from_sdk(e)),
        }
    }
}
