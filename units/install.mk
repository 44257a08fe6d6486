# SPDX-License-Identifier: Apache-2.0
#
# Installs the system integration: systemd unit, D-Bus policy and activation
# file, sysusers.d and tmpfiles.d entries, the production config, the catalogue
# seed and the working-day calendars. Called by the top Makefile's `install`:
#   make -f units/install.mk DESTDIR=... PREFIX=/usr SYSCONFDIR=/etc install-units
# Run from the repository root.
#
# The files under units/ name /usr/libexec/cloudbroker and /etc/cloudbroker;
# they are rewritten on the way in when PREFIX or SYSCONFDIR differ.
#
# An existing config is never overwritten (an operator's tokens live there);
# the new example is put beside it as cloudbroker.conf.new instead.

PREFIX ?= /usr
SYSCONFDIR ?= /etc
DESTDIR ?=
INSTALL ?= install

UNITDIR := $(PREFIX)/lib/systemd/system
DBUS_POLICYDIR := $(PREFIX)/share/dbus-1/system.d
DBUS_SERVICEDIR := $(PREFIX)/share/dbus-1/system-services
SYSUSERSDIR := $(PREFIX)/lib/sysusers.d
TMPFILESDIR := $(PREFIX)/lib/tmpfiles.d
CONFDIR := $(SYSCONFDIR)/cloudbroker

# Either may be empty (or absent) while the project grows: $(wildcard) yields
# nothing and the loops below do nothing.
CATALOG_FILES := $(wildcard etc/catalog/*.json)
CALENDAR_FILES := $(wildcard etc/calendar/*.txt)

SUBST := sed -e 's|/usr/libexec/cloudbroker/|$(PREFIX)/libexec/cloudbroker/|g' \
	     -e 's|/usr/bin/cloudbrokerctl|$(PREFIX)/bin/cloudbrokerctl|g' \
	     -e 's|/etc/cloudbroker|$(CONFDIR)|g'

.PHONY: install-units

install-units:
	$(INSTALL) -d $(DESTDIR)$(UNITDIR) $(DESTDIR)$(DBUS_POLICYDIR) $(DESTDIR)$(DBUS_SERVICEDIR) \
		$(DESTDIR)$(SYSUSERSDIR) $(DESTDIR)$(TMPFILESDIR) \
		$(DESTDIR)$(CONFDIR) $(DESTDIR)$(CONFDIR)/catalog $(DESTDIR)$(CONFDIR)/calendar
	$(SUBST) units/cloudbrokerd.service > $(DESTDIR)$(UNITDIR)/cloudbrokerd.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/cloudbrokerd.service
	$(SUBST) units/cloudbroker-checkpoint-key.service > $(DESTDIR)$(UNITDIR)/cloudbroker-checkpoint-key.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/cloudbroker-checkpoint-key.service
	$(SUBST) units/cloudbroker-secrets-key.service > $(DESTDIR)$(UNITDIR)/cloudbroker-secrets-key.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/cloudbroker-secrets-key.service
	$(INSTALL) -m 0644 units/org.cloudbroker.Broker1.conf $(DESTDIR)$(DBUS_POLICYDIR)/org.cloudbroker.Broker1.conf
	$(SUBST) units/org.cloudbroker.Broker1.service > $(DESTDIR)$(DBUS_SERVICEDIR)/org.cloudbroker.Broker1.service
	chmod 0644 $(DESTDIR)$(DBUS_SERVICEDIR)/org.cloudbroker.Broker1.service
	$(INSTALL) -m 0644 units/cloudbroker.sysusers $(DESTDIR)$(SYSUSERSDIR)/cloudbroker.conf
	$(SUBST) units/cloudbroker.tmpfiles > $(DESTDIR)$(TMPFILESDIR)/cloudbroker.conf
	chmod 0644 $(DESTDIR)$(TMPFILESDIR)/cloudbroker.conf
	@# 0640: tmpfiles.d gives it to group cloudbroker once the account exists.
	if [ -e $(DESTDIR)$(CONFDIR)/cloudbroker.conf ]; then \
		$(INSTALL) -m 0640 etc/cloudbroker.production.conf $(DESTDIR)$(CONFDIR)/cloudbroker.conf.new; \
	else \
		$(INSTALL) -m 0640 etc/cloudbroker.production.conf $(DESTDIR)$(CONFDIR)/cloudbroker.conf; \
	fi
	for f in $(CATALOG_FILES); do $(INSTALL) -m 0644 $$f $(DESTDIR)$(CONFDIR)/catalog/ || exit 1; done
	for f in $(CALENDAR_FILES); do $(INSTALL) -m 0644 $$f $(DESTDIR)$(CONFDIR)/calendar/ || exit 1; done
	@# Into the live system: create the account and fix ownership now, or the
	@# service could not read its 0640 config. Packages do this in postinst.
	@if [ -z "$(DESTDIR)" ] && command -v systemd-sysusers >/dev/null && [ "$$(id -u)" = 0 ]; then \
		echo "systemd-sysusers + systemd-tmpfiles --create for cloudbroker"; \
		systemd-sysusers $(SYSUSERSDIR)/cloudbroker.conf && \
		systemd-tmpfiles --create $(TMPFILESDIR)/cloudbroker.conf; \
	else \
		echo "install-units: on the target system run: systemd-sysusers $(SYSUSERSDIR)/cloudbroker.conf &&" \
		     "systemd-tmpfiles --create $(TMPFILESDIR)/cloudbroker.conf && systemctl daemon-reload"; \
	fi
