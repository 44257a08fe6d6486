/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/*
 * SSH key pairs for access to a VM (an OSB binding): Ed25519 from OpenSSL's
 * generator. The public half in OpenSSH's authorized_keys form (what a
 * guest's cloud-init or metadata injects), the private half in OpenSSH's
 * own unencrypted key file format, which `ssh -i` and ssh-keygen read. The private half is the credential:
 * callers never log or audit it; sshkey_fingerprint() is what may be recorded.
 */

#include <stddef.h>

/* "ssh-ed25519 BASE64 comment" and "-----BEGIN OPENSSH PRIVATE KEY-----..."
 * (the same comment); both to free(). comment may be NULL. 0, or -ENOMEM
 * / -EIO (OpenSSL failed). */
int sshkey_ed25519_new(const char *comment, char **ret_public, char **ret_private);

/* "SHA256:..." as ssh-keygen -l prints it (unpadded base64 of the
 * SHA-256 of the key blob), of an authorized_keys line; -EINVAL when it is
 * not one. */
#define SSHKEY_FINGERPRINT_MAX 64
int sshkey_fingerprint(const char *public_line, char ret[SSHKEY_FINGERPRINT_MAX]);
