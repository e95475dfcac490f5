"""Our own certificates and keys, declared in ``config/gateway.yaml`` under ``identity.certificates``.

::

    identity:
      isa_qualifier: ZZ
      isa_id: EXAMPLEHUB
      as2_id: EXAMPLEHUB
      certificates:
        - name: as2-2026
          use: [as2_signing, as2_encryption]
          certificate: config/certs/hub-as2-2026.pem          # public: may sit in git
          private_key: {secret: HUB_AS2_KEY}                  # PEM text from the environment / secrets dir
        - name: as2-2027                                      # the next one, overlapping the rollover
          use: [as2_signing, as2_encryption]
          certificate: config/certs/hub-as2-2027.pem
          private_key_file: /run/secrets/hub-as2-2027.key     # or a key file outside the repository
          private_key_passphrase: {secret: HUB_AS2_2027_PASSPHRASE}

Relative paths are under the gateway home (the folder above ``config/``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from gateway.partners.secrets import SecretRef

CertificateUse = Literal["as2_signing", "as2_encryption", "tls"]


class OwnCertificate(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=64, description="how logs and checks name this certificate")
    use: list[CertificateUse] = Field(min_length=1, description="as2_signing, as2_encryption, tls")
    certificate: Path = Field(description="our public certificate (PEM or DER)")
    private_key: SecretRef | None = Field(None, description="{secret: NAME} holding the PEM private key")
    private_key_file: Path | None = Field(None, description="or: a path to the PEM private key file")
    private_key_passphrase: SecretRef | None = Field(None, description="{secret: NAME}, if the key is encrypted")

    @model_validator(mode="after")
    def _one_key(self) -> OwnCertificate:
        if self.private_key is not None and self.private_key_file is not None:
            raise ValueError("give private_key ({secret: NAME}) or private_key_file, not both")
        if self.private_key is None and self.private_key_file is None:
            raise ValueError("our certificate needs its private key: private_key: {secret: NAME} or private_key_file")
        return self
