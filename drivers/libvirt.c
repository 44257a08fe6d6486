/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The libvirt driver: VMs on any libvirt URI (qemu:///system,
 * qemu+ssh://host/system, test:///...). Every call blocks and is meant for a
 * worker thread; a connection is shared by all workers (virConnectPtr is
 * thread-safe) and reopened on the next use when it is found dead.
 *
 * Domain events need libvirt's event loop: global_init registers the default
 * implementation (before any connection is opened, as the remote driver
 * requires) and runs virEventRunDefaultImpl() on a thread of its own. Event
 * callbacks therefore arrive on that thread; see DriverEventFn.
 */
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <pthread.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "digest.h"
#include "driver.h"
#include "libvirt-xml.h"
#include "seed-iso.h"

/* --- errors --------------------------------------------------------------- */

static CbErrorKind kind_of(const virError *e) {
        if (!e)
                return CB_ERR_INTERNAL;
        switch (e->code) {
        case VIR_ERR_NO_DOMAIN:
        case VIR_ERR_NO_STORAGE_VOL:
        case VIR_ERR_NO_STORAGE_POOL:
        case VIR_ERR_NO_NETWORK:
                return CB_ERR_NOT_FOUND;
        case VIR_ERR_OPERATION_INVALID:
                return CB_ERR_CONFLICT;
        case VIR_ERR_NO_SUPPORT:
        case VIR_ERR_ARGUMENT_UNSUPPORTED:
                return CB_ERR_UNSUPPORTED;
        case VIR_ERR_XML_ERROR:
        case VIR_ERR_XML_DETAIL:
        case VIR_ERR_CONFIG_UNSUPPORTED:
        case VIR_ERR_INVALID_ARG:
                return CB_ERR_UNPROCESSABLE;
        case VIR_ERR_NO_CONNECT:
        case VIR_ERR_INVALID_CONN:
        case VIR_ERR_RPC:
        case VIR_ERR_AUTH_FAILED:
        case VIR_ERR_AUTH_UNAVAILABLE:
        case VIR_ERR_OPERATION_TIMEOUT:
        case VIR_ERR_AGENT_UNRESPONSIVE:
                return CB_ERR_UNAVAILABLE;
        case VIR_ERR_SYSTEM_ERROR:
                return e->domain == VIR_FROM_RPC || e->domain == VIR_FROM_REMOTE ? CB_ERR_UNAVAILABLE
                                                                                 : CB_ERR_INTERNAL;
        default:
                return CB_ERR_INTERNAL;
        }
}

static int last_code(void) {
        const virError *e = virGetLastError();
        return e ? e->code : VIR_ERR_OK;
}

static int error_from(CbError *err, const char *what, const virError *e) {
        int r = cb_error_set(err, kind_of(e), "%s: %s", what, e && e->message ? e->message : "unknown error");
        virResetLastError();
        return r;
}

/* Turns libvirt's thread-local last error into a CbError. */
static int lv_error(CbError *err, const char *what) {
        return error_from(err, what, virGetLastError());
}

/* Keeps the error of a failed call while a second call checks whether the
 * failure matters (every libvirt call resets the thread's last error). */
static void errorp(virErrorPtr *p) {
        if (*p)
                virFreeError(*p);
}

/* --- process-wide: error printing and the event loop ---------------------- */

static pthread_mutex_t global_lock = PTHREAD_MUTEX_INITIALIZER;
static bool impl_registered;
static bool loop_running;
static bool loop_quit; /* __atomic */
static pthread_t loop_thread;

/* libvirt prints every error to stderr by default; ours travel in CbError. */
static void quiet_error(void *userdata, virErrorPtr error) {
        (void)userdata;
        (void)error;
}

static void *event_loop_main(void *arg) {
        (void)arg;
        while (!__atomic_load_n(&loop_quit, __ATOMIC_ACQUIRE))
                if (virEventRunDefaultImpl() < 0)
                        break;
        return NULL;
}

static void wake_timer(int timer, void *opaque) {
        (void)opaque;
        virEventRemoveTimeout(timer);
}

static int lv_global_init(CbError *err) {
        int r = 0;
        pthread_mutex_lock(&global_lock);
        if (!impl_registered) {
                if (virInitialize() < 0) {
                        r = cb_error_set(err, CB_ERR_INTERNAL, "libvirt cannot initialize");
                        goto out;
                }
                virSetErrorFunc(NULL, quiet_error);
                if (virEventRegisterDefaultImpl() < 0) {
                        r = lv_error(err, "cannot set up the libvirt event loop");
                        goto out;
                }
                impl_registered = true;
        }
        if (!loop_running) {
                __atomic_store_n(&loop_quit, false, __ATOMIC_RELEASE);
                int e = pthread_create(&loop_thread, NULL, event_loop_main, NULL);
                if (e != 0) {
                        r = cb_error_set(err, CB_ERR_INTERNAL, "cannot start the libvirt event thread: %s",
                                         strerror(e));
                        goto out;
                }
                loop_running = true;
        }
out:
        pthread_mutex_unlock(&global_lock);
        return r;
}

static void lv_global_shutdown(void) {
        pthread_mutex_lock(&global_lock);
        if (loop_running) {
                __atomic_store_n(&loop_quit, true, __ATOMIC_RELEASE);
                /* A due timer wakes the poll() the loop is sleeping in. */
                if (virEventAddTimeout(0, wake_timer, NULL, NULL) < 0)
                        virResetLastError();
                pthread_join(loop_thread, NULL);
                loop_running = false;
        }
        pthread_mutex_unlock(&global_lock);
}

/* --- connection ----------------------------------------------------------- */

/* The subscriber of a connection's events. libvirt holds a reference for each
 * registration and drops it through its free callback, which it runs only
 * once no dispatch is using it; so a callback in flight never sees freed
 * memory, and after deactivation (cb = NULL) none reaches the subscriber. */
typedef struct Watch {
        pthread_mutex_t lock;
        DriverEventFn cb;
        void *userdata;
        int refs; /* __atomic */
} Watch;

static Watch *watch_ref(Watch *w) {
        __atomic_add_fetch(&w->refs, 1, __ATOMIC_RELAXED);
        return w;
}

static void watch_unref(void *p) {
        Watch *w = p;
        if (w && __atomic_sub_fetch(&w->refs, 1, __ATOMIC_ACQ_REL) == 0) {
                pthread_mutex_destroy(&w->lock);
                free(w);
        }
}

static void watch_deliver(Watch *w, const DriverEvent *ev) {
        pthread_mutex_lock(&w->lock);
        if (w->cb)
                w->cb(ev, w->userdata);
        pthread_mutex_unlock(&w->lock);
}

typedef struct LibvirtConn {
        DriverConn base;
        char *uri;

        pthread_mutex_t lock; /* vc, caps, lifecycle_id, close_cb */
        virConnectPtr vc;     /* NULL after a failed reopen */
        char *caps;           /* capabilities XML of the host, read at (re)open */
        int lifecycle_id;     /* -1 when not registered on vc */
        bool close_cb;

        pthread_mutex_t watch_lock; /* watch; taken after lock, never before */
        Watch *watch;

        /* Image digests by volume fingerprint (inspect_volume): a volume whose
         * fingerprint is unchanged is not read again. Round robin. */
        pthread_mutex_t digest_lock;
        struct {
                char fingerprint[LIBVIRT_XML_FINGERPRINT_MAX];
                char alg[8];
                DriverImageInfo info;
        } digests[16];
        size_t next_digest;
} LibvirtConn;

static LibvirtConn *lc_of(DriverConn *c) {
        return (LibvirtConn *)c;
}

static void close_cb(virConnectPtr vc, int reason, void *opaque) {
        LibvirtConn *lc = opaque;
        (void)vc;
        /* libvirt holds its close-callback lock while we run, and unregistering
         * waits for it: so lc is alive here. Not taking lc->lock avoids the
         * deadlock with disconnect_locked(). */
        pthread_mutex_lock(&lc->watch_lock);
        if (lc->watch)
                watch_deliver(lc->watch, &(DriverEvent){ .kind = DRIVER_EVENT_CONNECTION_LOST,
                                                         .state = DRIVER_STATE_UNKNOWN,
                                                         .detail = reason });
        pthread_mutex_unlock(&lc->watch_lock);
}

static int read_stamp(virDomainPtr d, DriverStamp *ret, CbError *err);

static DriverEvent event_of(int event, int detail) {
        DriverEvent ev = { .kind = DRIVER_EVENT_OTHER, .state = DRIVER_STATE_UNKNOWN, .detail = detail };
        switch (event) {
        case VIR_DOMAIN_EVENT_DEFINED:
                ev.kind = DRIVER_EVENT_DEFINED;
                break;
        case VIR_DOMAIN_EVENT_UNDEFINED:
                ev.kind = DRIVER_EVENT_UNDEFINED;
                break;
        case VIR_DOMAIN_EVENT_STARTED:
                ev.kind = DRIVER_EVENT_STARTED;
                ev.state = DRIVER_STATE_RUNNING;
                break;
        case VIR_DOMAIN_EVENT_SUSPENDED:
                ev.kind = DRIVER_EVENT_SUSPENDED;
                ev.state = DRIVER_STATE_PAUSED;
                break;
        case VIR_DOMAIN_EVENT_RESUMED:
                ev.kind = DRIVER_EVENT_RESUMED;
                ev.state = DRIVER_STATE_RUNNING;
                break;
        case VIR_DOMAIN_EVENT_STOPPED:
                ev.kind = DRIVER_EVENT_STOPPED;
                ev.state = DRIVER_STATE_SHUTOFF;
                break;
        case VIR_DOMAIN_EVENT_SHUTDOWN:
                ev.kind = DRIVER_EVENT_SHUTDOWN;
                ev.state = DRIVER_STATE_SHUTTING_DOWN;
                break;
        case VIR_DOMAIN_EVENT_PMSUSPENDED:
                ev.state = DRIVER_STATE_PAUSED;
                break;
        case VIR_DOMAIN_EVENT_CRASHED:
                ev.kind = DRIVER_EVENT_CRASHED;
                ev.state = DRIVER_STATE_CRASHED;
                break;
        default:
                break;
        }
        return ev;
}

static int lifecycle_cb(virConnectPtr vc, virDomainPtr d, int event, int detail, void *opaque) {
        Watch *w = opaque;
        char uuid[VIR_UUID_STRING_BUFLEN] = "";
        DriverStamp stamp = { 0 };
        (void)vc;

        DriverEvent ev = event_of(event, detail);
        if (virDomainGetUUIDString(d, uuid) < 0)
                virResetLastError();
        ev.name = virDomainGetName(d);
        ev.provider_ref = uuid;
        /* Read before taking the watch lock: it may be a round trip. An
         * undefined domain has no metadata left to read. */
        if (event != VIR_DOMAIN_EVENT_UNDEFINED && read_stamp(d, &stamp, NULL) == 0)
                ev.resource_id = stamp.resource_id;
        virResetLastError();
        watch_deliver(w, &ev);
        driver_stamp_done(&stamp);
        return 0;
}

/* Called with lc->lock held. */
static int register_watch_locked(LibvirtConn *lc, CbError *err) {
        pthread_mutex_lock(&lc->watch_lock);
        Watch *w = lc->watch ? watch_ref(lc->watch) : NULL;
        pthread_mutex_unlock(&lc->watch_lock);
        if (!w || !lc->vc)
                goto none;
        /* The double cast is the one libvirt intends (VIR_DOMAIN_EVENT_CALLBACK)
         * spelled so that -Wcast-function-type accepts it. */
        int id = virConnectDomainEventRegisterAny(
                lc->vc, NULL, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                (virConnectDomainEventGenericCallback)(void (*)(void))lifecycle_cb, w, watch_unref);
        if (id < 0) {
                watch_unref(w);
                return lv_error(err, "cannot watch domain events");
        }
        lc->lifecycle_id = id;
        return 0;
none:
        if (w)
                watch_unref(w);
        return 0;
}

static void deregister_watch_locked(LibvirtConn *lc) {
        if (lc->vc && lc->lifecycle_id >= 0 &&
            virConnectDomainEventDeregisterAny(lc->vc, lc->lifecycle_id) < 0)
                virResetLastError(); /* a dead connection frees its callbacks itself */
        lc->lifecycle_id = -1;
}

static void disconnect_locked(LibvirtConn *lc) {
        if (!lc->vc)
                return;
        if (lc->close_cb && virConnectUnregisterCloseCallback(lc->vc, close_cb) < 0)
                virResetLastError();
        lc->close_cb = false;
        deregister_watch_locked(lc);
        virConnectClose(lc->vc);
        lc->vc = NULL;
        free(lc->caps);
        lc->caps = NULL;
}

/* One virConnectOpen() on a thread of its own. virConnectOpen has no timeout
 * (a host that accepts TCP and never answers keeps it waiting for good), so
 * the caller waits for it with one, and on giving up leaves the attempt to
 * finish by itself: whichever side leaves last frees it, and an open that
 * succeeds after nobody waits is closed at once. */
typedef struct OpenAttempt {
        pthread_mutex_t lock;
        pthread_cond_t cond;
        int refs; /* under lock */
        bool done;
        char *uri;
        virConnectPtr vc;
        char *message; /* why the open failed */
} OpenAttempt;

static void open_attempt_unref(OpenAttempt *a) {
        pthread_mutex_lock(&a->lock);
        bool last = --a->refs == 0;
        pthread_mutex_unlock(&a->lock);
        if (!last)
                return;
        if (a->vc)
                virConnectClose(a->vc);
        pthread_cond_destroy(&a->cond);
        pthread_mutex_destroy(&a->lock);
        free(a->message);
        free(a->uri);
        free(a);
}

static void *open_attempt_main(void *arg) {
        OpenAttempt *a = arg;
        virConnectPtr vc = virConnectOpen(a->uri);
        char *message = NULL;
        if (!vc) {
                const virError *e = virGetLastError();
                message = strdup(e && e->message ? e->message : "unknown error");
                virResetLastError();
        }
        pthread_mutex_lock(&a->lock);
        a->vc = vc;
        a->message = message;
        a->done = true;
        pthread_cond_signal(&a->cond);
        pthread_mutex_unlock(&a->lock);
        open_attempt_unref(a);
        return NULL;
}

/* virConnectOpen(uri) within driver_connect_timeout_ms(), or sooner given up
 * by driver_cancel_waits(). */
static int open_bounded(const char *uri, virConnectPtr *ret, CbError *err) {
        OpenAttempt *a = calloc(1, sizeof(*a));
        if (!a || !(a->uri = strdup(uri))) {
                free(a);
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        }
        pthread_mutex_init(&a->lock, NULL);
        pthread_condattr_t ca;
        pthread_condattr_init(&ca);
        pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        pthread_cond_init(&a->cond, &ca);
        pthread_condattr_destroy(&ca);
        a->refs = 2;

        pthread_t t;
        pthread_attr_t ta;
        pthread_attr_init(&ta);
        pthread_attr_setdetachstate(&ta, PTHREAD_CREATE_DETACHED);
        int e = pthread_create(&t, &ta, open_attempt_main, a);
        pthread_attr_destroy(&ta);
        if (e != 0) {
                a->refs = 1;
                open_attempt_unref(a);
                return cb_error_set(err, CB_ERR_INTERNAL, "cannot start a connection thread: %s",
                                    strerror(e));
        }

        unsigned timeout_ms = driver_connect_timeout_ms();
        struct timespec deadline;
        clock_gettime(CLOCK_MONOTONIC, &deadline);
        uint64_t end_ns = (uint64_t)deadline.tv_sec * 1000000000ULL + (uint64_t)deadline.tv_nsec +
                          (uint64_t)timeout_ms * 1000000ULL;
        int r = 0;
        pthread_mutex_lock(&a->lock);
        /* Bounded by end_ns; woken every 100 ms to notice a cancelled wait. */
        while (!a->done) {
                struct timespec now;
                clock_gettime(CLOCK_MONOTONIC, &now);
                uint64_t now_ns = (uint64_t)now.tv_sec * 1000000000ULL + (uint64_t)now.tv_nsec;
                if (now_ns >= end_ns) {
                        r = cb_error_set(err, CB_ERR_UNAVAILABLE,
                                         "cannot connect to %s: no answer within %u ms", uri, timeout_ms);
                        break;
                }
                if (driver_waits_cancelled()) {
                        /* -ECANCELED: an operation waiting for this stays pending for the restart. */
                        cb_error_set(err, CB_ERR_UNAVAILABLE,
                                     "cannot connect to %s: given up, the daemon is stopping", uri);
                        r = -ECANCELED;
                        break;
                }
                uint64_t wake_ns = now_ns + 100000000ULL < end_ns ? now_ns + 100000000ULL : end_ns;
                struct timespec wake = { .tv_sec = (time_t)(wake_ns / 1000000000ULL),
                                         .tv_nsec = (long)(wake_ns % 1000000000ULL) };
                pthread_cond_timedwait(&a->cond, &a->lock, &wake);
        }
        if (r == 0 && !a->vc)
                r = cb_error_set(err, CB_ERR_UNAVAILABLE, "cannot connect to %s: %s", uri,
                                 a->message ? a->message : "out of memory");
        if (r == 0)
                *ret = TAKE_PTR(a->vc);
        pthread_mutex_unlock(&a->lock);
        open_attempt_unref(a);
        return r;
}

static int connect_locked(LibvirtConn *lc, CbError *err) {
        virConnectPtr vc = NULL;
        int r = open_bounded(lc->uri, &vc, err);
        if (r < 0)
                return r;
        /* Remote connections notice a dead peer through keepalive; local
         * drivers do not support it, which is fine. */
        if (virConnectSetKeepAlive(vc, 5, 3) < 0)
                virResetLastError();
        char *caps = virConnectGetCapabilities(vc);
        if (!caps) {
                r = lv_error(err, "cannot read host capabilities");
                virConnectClose(vc);
                return r;
        }
        lc->vc = vc;
        lc->caps = caps;
        if (virConnectRegisterCloseCallback(vc, close_cb, lc, NULL) < 0)
                virResetLastError();
        else
                lc->close_cb = true;
        r = register_watch_locked(lc, err);
        if (r < 0) {
                disconnect_locked(lc);
                return r;
        }
        return 0;
}

/* A referenced, live virConnectPtr: reopens a dead one first. Release with
 * virConnectClose(). */
static int acquire(LibvirtConn *lc, virConnectPtr *ret, CbError *err) {
        int r = 0;
        pthread_mutex_lock(&lc->lock);
        if (!lc->vc || virConnectIsAlive(lc->vc) != 1) {
                virResetLastError();
                disconnect_locked(lc);
                r = connect_locked(lc, err);
        }
        if (r >= 0) {
                virConnectRef(lc->vc);
                *ret = lc->vc;
        }
        pthread_mutex_unlock(&lc->lock);
        return r;
}

static void connp(virConnectPtr *p) {
        if (*p)
                virConnectClose(*p);
}
static void domp(virDomainPtr *p) {
        if (*p)
                virDomainFree(*p);
}
static void poolp(virStoragePoolPtr *p) {
        if (*p)
                virStoragePoolFree(*p);
}
static void volp(virStorageVolPtr *p) {
        if (*p)
                virStorageVolFree(*p);
}

static void lv_close(DriverConn *c) {
        LibvirtConn *lc = lc_of(c);
        if (!lc)
                return;
        pthread_mutex_lock(&lc->watch_lock);
        Watch *w = lc->watch;
        lc->watch = NULL;
        pthread_mutex_unlock(&lc->watch_lock);
        if (w) {
                pthread_mutex_lock(&w->lock);
                w->cb = NULL;
                pthread_mutex_unlock(&w->lock);
                watch_unref(w);
        }
        pthread_mutex_lock(&lc->lock);
        disconnect_locked(lc);
        pthread_mutex_unlock(&lc->lock);
        pthread_mutex_destroy(&lc->lock);
        pthread_mutex_destroy(&lc->watch_lock);
        pthread_mutex_destroy(&lc->digest_lock);
        free(lc->uri);
        free(lc);
}

static int lv_open(const char *uri, DriverConn **ret, CbError *err) {
        int r = lv_global_init(err);
        if (r < 0)
                return r;
        LibvirtConn *lc = calloc(1, sizeof(*lc));
        if (!lc || !(lc->uri = strdup(uri))) {
                free(lc);
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        }
        lc->base.ops = &libvirt_driver_ops;
        lc->lifecycle_id = -1;
        pthread_mutex_init(&lc->lock, NULL);
        pthread_mutex_init(&lc->watch_lock, NULL);
        pthread_mutex_init(&lc->digest_lock, NULL);

        pthread_mutex_lock(&lc->lock);
        r = connect_locked(lc, err);
        pthread_mutex_unlock(&lc->lock);
        if (r < 0) {
                lv_close(&lc->base);
                return r;
        }
        *ret = &lc->base;
        return 0;
}

static int lv_ping(DriverConn *c, CbError *err) {
        _cleanup_(connp) virConnectPtr vc = NULL;
        return acquire(lc_of(c), &vc, err);
}

static int lv_watch_events(DriverConn *c, DriverEventFn cb, void *userdata, CbError *err) {
        LibvirtConn *lc = lc_of(c);
        Watch *nw = NULL;
        if (cb) {
                nw = calloc(1, sizeof(*nw));
                if (!nw)
                        return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
                pthread_mutex_init(&nw->lock, NULL);
                nw->cb = cb;
                nw->userdata = userdata;
                nw->refs = 1;
        }

        pthread_mutex_lock(&lc->lock);
        deregister_watch_locked(lc);
        pthread_mutex_lock(&lc->watch_lock);
        Watch *old = lc->watch;
        lc->watch = nw;
        pthread_mutex_unlock(&lc->watch_lock);
        if (old) {
                pthread_mutex_lock(&old->lock);
                old->cb = NULL;
                pthread_mutex_unlock(&old->lock);
                watch_unref(old);
        }
        int r = register_watch_locked(lc, err);
        if (r < 0) {
                pthread_mutex_lock(&lc->watch_lock);
                lc->watch = NULL;
                pthread_mutex_unlock(&lc->watch_lock);
                watch_unref(nw);
        }
        pthread_mutex_unlock(&lc->lock);
        return r;
}

/* --- domains -------------------------------------------------------------- */

static DriverState state_of(int s) {
        switch (s) {
        case VIR_DOMAIN_RUNNING:
        case VIR_DOMAIN_BLOCKED:
                return DRIVER_STATE_RUNNING;
        case VIR_DOMAIN_PAUSED:
        case VIR_DOMAIN_PMSUSPENDED:
                return DRIVER_STATE_PAUSED;
        case VIR_DOMAIN_SHUTDOWN:
                return DRIVER_STATE_SHUTTING_DOWN;
        case VIR_DOMAIN_SHUTOFF:
                return DRIVER_STATE_SHUTOFF;
        case VIR_DOMAIN_CRASHED:
                return DRIVER_STATE_CRASHED;
        default:
                return DRIVER_STATE_UNKNOWN;
        }
}

/* -ENOENT: no stamp; -EBADMSG: a stamp we cannot read (treated as not ours);
 * -ESRCH: the domain was undefined meanwhile (err is NOT_FOUND), which must
 * not pass for "unstamped": an inventory would report a domain the broker is
 * deleting as UNMANAGED_RESOURCE. */
static int read_stamp(virDomainPtr d, DriverStamp *ret, CbError *err) {
        char *xml = virDomainGetMetadata(d, VIR_DOMAIN_METADATA_ELEMENT, CB_XML_NS_URI, 0);
        if (!xml) {
                int code = last_code();
                if (code == VIR_ERR_NO_DOMAIN_METADATA) {
                        virResetLastError();
                        return -ENOENT;
                }
                int r = lv_error(err, "cannot read domain metadata");
                return code == VIR_ERR_NO_DOMAIN ? -ESRCH : r;
        }
        int r = libvirt_xml_parse_stamp(xml, ret);
        free(xml);
        return r;
}

static int fill_instance(virDomainPtr d, DriverInstance *ret, CbError *err) {
        DriverInstance in = { 0 };
        char uuid[VIR_UUID_STRING_BUFLEN];
        virDomainInfo info;
        int r;

        if (virDomainGetUUIDString(d, uuid) < 0 || virDomainGetInfo(d, &info) < 0)
                return lv_error(err, "cannot read domain");
        in.name = strdup(virDomainGetName(d));
        in.provider_ref = strdup(uuid);
        if (!in.name || !in.provider_ref) {
                driver_instance_done(&in);
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        }
        in.state = state_of(info.state);
        in.vcpus = info.nrVirtCpu;
        in.memory_mib = info.maxMem / 1024;
        r = read_stamp(d, &in.stamp, err);
        if (r == 0)
                in.managed = true;
        else if (r != -ENOENT && r != -EBADMSG) {
                driver_instance_done(&in);
                return r == -ESRCH ? -ENOENT : r; /* gone, like a failed virDomainGetInfo */
        }
        *ret = in;
        return 0;
}

/* The domain stamped with ref->resource_id, found by provider_ref or by the
 * name derived from the resource id. A domain that carries another stamp, or
 * none, is refused: the broker never touches what it cannot prove is its own. */
static int find_domain(virConnectPtr vc, const DriverRef *ref, virDomainPtr *ret, CbError *err) {
        _cleanup_(domp) virDomainPtr d = NULL;
        _cleanup_(freep) char *name = NULL;

        if (!isempty(ref->provider_ref)) {
                d = virDomainLookupByUUIDString(vc, ref->provider_ref);
                if (!d) {
                        int code = last_code();
                        /* INVALID_ARG: not a UUID; fall back to the name. */
                        if (code != VIR_ERR_NO_DOMAIN && code != VIR_ERR_INVALID_ARG)
                                return lv_error(err, "cannot look up domain");
                        virResetLastError();
                }
        }
        if (!d) {
                if (libvirt_xml_domain_name(ref->resource_id, &name) < 0)
                        return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
                d = virDomainLookupByName(vc, name);
                if (!d) {
                        if (last_code() == VIR_ERR_NO_DOMAIN) {
                                virResetLastError();
                                return cb_error_set(err, CB_ERR_NOT_FOUND, "no domain for resource %s",
                                                    ref->resource_id);
                        }
                        return lv_error(err, "cannot look up domain");
                }
        }

        DriverStamp st = { 0 };
        int r = read_stamp(d, &st, err);
        if (r == -ESRCH)
                return cb_error_set(err, CB_ERR_NOT_FOUND, "no domain for resource %s", ref->resource_id);
        if (r < 0 && r != -ENOENT && r != -EBADMSG)
                return r;
        bool ours = r == 0 && streq(st.resource_id, ref->resource_id);
        driver_stamp_done(&st);
        if (!ours)
                return cb_error_set(err, CB_ERR_CONFLICT,
                                    "domain %s is not stamped with resource %s: refusing to touch it",
                                    virDomainGetName(d), ref->resource_id);
        *ret = TAKE_PTR(d);
        return 0;
}

static int uuid_of(virDomainPtr d, char **ret, CbError *err) {
        char uuid[VIR_UUID_STRING_BUFLEN];
        if (virDomainGetUUIDString(d, uuid) < 0)
                return lv_error(err, "cannot read domain UUID");
        char *s = strdup(uuid);
        if (!s)
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        *ret = s;
        return 0;
}

/* libvirt changes a domain's state one job at a time, and a call that waits
 * for its turn gives up after 30 s (VIR_ERR_OPERATION_TIMEOUT, "cannot
 * acquire state change lock"). The job ahead is typically a start of this
 * very domain that an interrupted attempt left behind (the daemon was killed
 * inside the call; libvirtd carries on), and on a slow host it can outlast
 * one wait. Failing then would roll back the VM that start is bringing up:
 * so a start or resume waits this many turns before it gives up. */
#define ENSURE_RUNNING_TURNS 4

/* Runs d, resuming it if paused; running already is success. */
static int ensure_running(virDomainPtr d, CbError *err) {
        for (unsigned turn = 1;; turn++) {
                _cleanup_(errorp) virErrorPtr e = NULL;
                const char *what;
                int state, reason;

                if (virDomainGetState(d, &state, &reason, 0) < 0)
                        return lv_error(err, "cannot read domain state");
                if (state == VIR_DOMAIN_PAUSED) {
                        if (virDomainResume(d) == 0)
                                return 0;
                        e = virSaveLastError();
                        what = "cannot resume domain";
                        /* Paused because libvirt is still starting it (QEMU starts
                         * with vCPUs stopped), e.g. for an attempt that a crash
                         * interrupted: the resume waits for that start and then
                         * finds it running. */
                        if (virDomainGetState(d, &state, &reason, 0) == 0 && state == VIR_DOMAIN_RUNNING) {
                                virResetLastError();
                                return 0;
                        }
                } else {
                        if (virDomainIsActive(d) == 1)
                                return 0;
                        if (virDomainCreate(d) == 0)
                                return 0;
                        e = virSaveLastError();
                        what = "cannot start domain";
                        /* Lost a race with another start (QEMU says OPERATION_INVALID,
                         * the test driver INTERNAL_ERROR): fine if it runs now. */
                        if (virDomainIsActive(d) == 1) {
                                virResetLastError();
                                return 0;
                        }
                }
                if (!e || e->code != VIR_ERR_OPERATION_TIMEOUT || turn >= ENSURE_RUNNING_TURNS)
                        return error_from(err, what, e);
                virResetLastError();
        }
}

/* Undefines with every clean-up flag the host knows: the test driver and
 * older hosts refuse some, so fall back step by step. */
static int undefine(virDomainPtr d, CbError *err) {
        static const unsigned attempts[] = {
                VIR_DOMAIN_UNDEFINE_MANAGED_SAVE | VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA |
                        VIR_DOMAIN_UNDEFINE_CHECKPOINTS_METADATA | VIR_DOMAIN_UNDEFINE_NVRAM,
                VIR_DOMAIN_UNDEFINE_MANAGED_SAVE | VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA,
                0,
        };
        for (size_t i = 0; i < ELEMENTSOF(attempts); i++) {
                if (virDomainUndefineFlags(d, attempts[i]) == 0)
                        return 0;
                int code = last_code();
                if (code == VIR_ERR_NO_DOMAIN) { /* gone meanwhile (or was transient) */
                        virResetLastError();
                        return 0;
                }
                if (code != VIR_ERR_INVALID_ARG && code != VIR_ERR_NO_SUPPORT &&
                    code != VIR_ERR_ARGUMENT_UNSUPPORTED)
                        break;
                virResetLastError();
        }
        return lv_error(err, "cannot undefine domain");
}

static int force_off(virDomainPtr d, CbError *err) {
        if (virDomainDestroy(d) == 0)
                return 0;
        _cleanup_(errorp) virErrorPtr e = virSaveLastError();
        int active = virDomainIsActive(d);
        if (active == 0 || (active < 0 && last_code() == VIR_ERR_NO_DOMAIN) ||
            (e && e->code == VIR_ERR_NO_DOMAIN)) {
                virResetLastError();
                return 0;
        }
        return error_from(err, "cannot power off domain", e);
}

/* Deletes the volume named after the resource; absent pool or volume is success. */
static int delete_named_volume(virConnectPtr vc, const char *pool_name, const char *name, CbError *err);

/* The resource's disk (or block volume) and, for a VM, its first-boot seed. */
static int delete_volume(virConnectPtr vc, const char *pool_name, const char *resource_id, CbError *err) {
        _cleanup_(freep) char *name = NULL, *seed = NULL;
        int r;

        if (libvirt_xml_volume_name(resource_id, &name) < 0 || libvirt_xml_seed_name(resource_id, &seed) < 0)
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        r = delete_named_volume(vc, pool_name, seed, err);
        return r < 0 ? r : delete_named_volume(vc, pool_name, name, err);
}

/* The pool an order names (pool_name already defaulted): one the provider
 * lacks is the order's fault, 422 naming "pool"; any other failure is the
 * provider's. */
static int order_pool(virConnectPtr vc, const char *pool_name, virStoragePoolPtr *ret, CbError *err) {
        virStoragePoolPtr pool = virStoragePoolLookupByName(vc, pool_name);
        if (!pool) {
                if (last_code() == VIR_ERR_NO_STORAGE_POOL) {
                        virResetLastError();
                        return cb_error_set_field(err, CB_ERR_UNPROCESSABLE, "pool",
                                                  "the provider has no storage pool %s", pool_name);
                }
                return lv_error(err, "cannot look up storage pool");
        }
        *ret = pool;
        return 0;
}

static int delete_named_volume(virConnectPtr vc, const char *pool_name, const char *name, CbError *err) {
        _cleanup_(poolp) virStoragePoolPtr pool = NULL;
        _cleanup_(volp) virStorageVolPtr vol = NULL;

        pool = virStoragePoolLookupByName(vc, isempty(pool_name) ? "default" : pool_name);
        if (!pool) {
                if (last_code() == VIR_ERR_NO_STORAGE_POOL) {
                        virResetLastError();
                        return 0;
                }
                return lv_error(err, "cannot look up storage pool");
        }
        vol = virStorageVolLookupByName(pool, name);
        if (!vol) {
                if (last_code() == VIR_ERR_NO_STORAGE_VOL) {
                        virResetLastError();
                        return 0;
                }
                return lv_error(err, "cannot look up volume");
        }
        if (virStorageVolDelete(vol, 0) < 0) {
                if (last_code() == VIR_ERR_NO_STORAGE_VOL) {
                        virResetLastError();
                        return 0;
                }
                return lv_error(err, "cannot delete volume");
        }
        return 0;
}

static int key_of(virStorageVolPtr vol, char **ret, CbError *err) {
        const char *key = virStorageVolGetKey(vol);
        if (!key)
                return lv_error(err, "cannot read the volume's key");
        char *s = strdup(key);
        if (!s)
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        *ret = s;
        return 0;
}

/* Creates the resource's volume, or finds the one an interrupted earlier
 * attempt left (the name is ours by construction). ret_key (may be NULL):
 * the volume's key, its provider reference. */
static int ensure_volume(virConnectPtr vc, const ProvisionSpec *spec, char **ret_key, CbError *err) {
        _cleanup_(poolp) virStoragePoolPtr pool = NULL;
        _cleanup_(volp) virStorageVolPtr vol = NULL;
        _cleanup_(freep) char *name = NULL, *xml = NULL;
        const char *pool_name = isempty(spec->pool) ? "default" : spec->pool;
        int r;

        if ((r = order_pool(vc, pool_name, &pool, err)) < 0)
                return r;
        if (libvirt_xml_volume_name(spec->resource_id, &name) < 0)
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        vol = virStorageVolLookupByName(pool, name);
        if (vol)
                return ret_key ? key_of(vol, ret_key, err) : 0;
        virResetLastError();
        if ((r = libvirt_xml_volume(spec, &xml, err)) < 0)
                return r;
        vol = virStorageVolCreateXML(pool, xml, 0);
        if (vol)
                return ret_key ? key_of(vol, ret_key, err) : 0;
        /* A concurrent provision of the same resource created it first (the
         * drivers differ in the error code they give): its volume is ours too. */
        _cleanup_(errorp) virErrorPtr e = virSaveLastError();
        vol = virStorageVolLookupByName(pool, name);
        if (vol) {
                virResetLastError();
                return ret_key ? key_of(vol, ret_key, err) : 0;
        }
        return error_from(err, "cannot create volume", e);
}

static int inspect_volume(LibvirtConn *lc, virConnectPtr vc, virStorageVolPtr vol, const char *alg,
                          DriverImageInfo *ret, CbError *err);
static int find_image(virConnectPtr vc, const char *pool_name, const char *volume, const char *field_pool,
                      const char *field_volume, virStoragePoolPtr *ret_pool, virStorageVolPtr *ret_vol,
                      CbError *err);

/* "qcow2" when the pool's volumes can be files over a backing file (the
 * system disk is then copy-on-write), else "raw" (a full clone). */
static int system_disk_format(virConnectPtr vc, const char *pool_name, const char **ret, CbError *err) {
        _cleanup_(poolp) virStoragePoolPtr pool = NULL;
        _cleanup_(freep) char *xml = NULL;
        char type[32];
        int r;

        r = order_pool(vc, isempty(pool_name) ? "default" : pool_name, &pool, err);
        if (r < 0)
                return r;
        xml = virStoragePoolGetXMLDesc(pool, 0);
        if (!xml)
                return lv_error(err, "cannot read the storage pool");
        if (libvirt_xml_pool_type(xml, type, sizeof(type)) < 0)
                return cb_error_set(err, CB_ERR_INTERNAL, "cannot read the type of storage pool %s",
                                    pool_name);
        *ret = libvirt_xml_pool_has_backing(type) ? "qcow2" : "raw";
        return 0;
}

/* The system disk from the image: a qcow2 over it where the pool takes
 * backing files, a full clone elsewhere; found again when an interrupted
 * attempt made it. The image is digested first and must still be what was
 * registered; it is only ever read. */
static int ensure_system_disk(LibvirtConn *lc, virConnectPtr vc, const ProvisionSpec *spec, CbError *err) {
        _cleanup_(poolp) virStoragePoolPtr pool = NULL;
        _cleanup_(volp) virStorageVolPtr vol = NULL, image = NULL;
        _cleanup_(freep) char *name = NULL, *xml = NULL, *path = NULL;
        const char *pool_name = isempty(spec->pool) ? "default" : spec->pool;
        bool cow = streq_ptr(spec->disk_format, "qcow2");
        DriverImageInfo info;
        int r;

        if ((r = order_pool(vc, pool_name, &pool, err)) < 0)
                return r;
        if (libvirt_xml_volume_name(spec->resource_id, &name) < 0)
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        vol = virStorageVolLookupByName(pool, name);
        if (vol)
                return 0;
        virResetLastError();

        r = find_image(vc, spec->image_pool, spec->image_volume, "os_image", "os_image", NULL, &image, err);
        if (r < 0) {
                if (err && err->kind == CB_ERR_NOT_FOUND)
                        err->kind = CB_ERR_VALIDATION; /* the image named by the plan is gone */
                return r == -ENOENT ? -EINVAL : r;
        }
        r = inspect_volume(lc, vc, image, spec->image_digest_alg, &info, err);
        if (r < 0)
                return r;
        if (!digest_equal_ct(info.digest, spec->image_digest))
                return cb_error_set_field(
                        err, CB_ERR_VALIDATION, "os_image",
                        "os_image: image volume '%s' has changed since it was registered (its "
                        "%s is now %s)",
                        spec->image_volume, spec->image_digest_alg, info.digest);
        if (info.capacity_bytes > spec->disk_gib * 1024ULL * 1024 * 1024)
                return cb_error_set_field(err, CB_ERR_VALIDATION, "disk_gib",
                                          "disk_gib: %llu GiB is smaller than image '%s' (%llu bytes)",
                                          (unsigned long long)spec->disk_gib, spec->image_volume,
                                          (unsigned long long)info.capacity_bytes);
        if (cow) {
                path = virStorageVolGetPath(image);
                if (!path)
                        return lv_error(err, "cannot read the image's path");
        }
        if ((r = libvirt_xml_system_disk(spec, path, &xml, err)) < 0)
                return r;
        vol = cow ? virStorageVolCreateXML(pool, xml, 0) : virStorageVolCreateXMLFrom(pool, xml, image, 0);
        if (vol)
                return 0;
        /* A concurrent provision of the same resource made it first. */
        _cleanup_(errorp) virErrorPtr e = virSaveLastError();
        vol = virStorageVolLookupByName(pool, name);
        if (vol) {
                virResetLastError();
                return 0;
        }
        return error_from(err, cow ? "cannot create the system disk" : "cannot clone the image", e);
}

/* Writes the seed's bytes into its volume: virStorageVolUpload, or on a
 * test:// connection (no upload there) the volume's path on this host. */
static int upload_seed(LibvirtConn *lc, virConnectPtr vc, virStorageVolPtr vol, const unsigned char *buf,
                       size_t len, CbError *err) {
        virStreamPtr st = virStreamNew(vc, 0);
        size_t sent = 0;

        if (!st)
                return lv_error(err, "cannot open a stream");
        if (virStorageVolUpload(vol, st, 0, len, 0) < 0) {
                bool local = last_code() == VIR_ERR_NO_SUPPORT && strncmp(lc->uri, "test:", 5) == 0;
                virStreamFree(st);
                if (!local)
                        return lv_error(err, "cannot upload the first-boot seed");
                virResetLastError();
                _cleanup_(freep) char *path = virStorageVolGetPath(vol);
                FILE *f = path ? fopen(path, "we") : NULL;
                bool ok = f && fwrite(buf, 1, len, f) == len;
                if (f && fclose(f) != 0)
                        ok = false;
                return ok ? 0
                          : cb_error_set(err, CB_ERR_UNPROCESSABLE, "cannot write the seed at %s",
                                         path ? path : "?");
        }
        while (sent < len) {
                size_t chunk = len - sent < 65536 ? len - sent : 65536;
                int n = virStreamSend(st, (const char *)buf + sent, chunk);
                if (n <= 0) {
                        int r = lv_error(err, "cannot upload the first-boot seed");
                        virStreamAbort(st);
                        virStreamFree(st);
                        return r;
                }
                sent += (size_t)n;
        }
        if (virStreamFinish(st) < 0) {
                int r = lv_error(err, "cannot finish uploading the first-boot seed");
                virStreamFree(st);
                return r;
        }
        virStreamFree(st);
        return 0;
}

/* The VM's NoCloud seed volume. Made again on every provision attempt: the
 * same documents give the same seed, and one left half-written by a crash
 * is never booted from. */
static int ensure_seed(LibvirtConn *lc, virConnectPtr vc, const ProvisionSpec *spec, CbError *err) {
        _cleanup_(poolp) virStoragePoolPtr pool = NULL;
        _cleanup_(volp) virStorageVolPtr vol = NULL;
        _cleanup_(freep) char *name = NULL, *xml = NULL;
        _cleanup_(freep) unsigned char *iso = NULL;
        const char *pool_name = isempty(spec->pool) ? "default" : spec->pool;
        size_t len = 0;
        int r;

        pool = virStoragePoolLookupByName(vc, pool_name);
        if (!pool)
                return lv_error(err, "cannot look up storage pool");
        if (libvirt_xml_seed_name(spec->resource_id, &name) < 0)
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        r = seed_iso_build(spec->seed_meta_data, spec->seed_user_data, &iso, &len, err);
        if (r < 0)
                return r;
        vol = virStorageVolLookupByName(pool, name);
        if (vol) {
                if (virStorageVolDelete(vol, 0) < 0)
                        return lv_error(err, "cannot replace the first-boot seed");
                virStorageVolFree(vol);
                vol = NULL;
        }
        virResetLastError();
        if (libvirt_xml_seed_volume(spec->resource_id, len, &xml) < 0)
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        vol = virStorageVolCreateXML(pool, xml, 0);
        if (!vol)
                return lv_error(err, "cannot create the first-boot seed");
        return upload_seed(lc, vc, vol, iso, len, err);
}

static const char *domain_type_for(LibvirtConn *lc, const char *arch, DriverDomainType want) {
        pthread_mutex_lock(&lc->lock);
        const char *t = libvirt_xml_pick_domain_type(
                lc->caps, arch ? arch : "x86_64",
                want == DRIVER_DOMAIN_AUTO ? NULL : driver_domain_type_to_string(want));
        pthread_mutex_unlock(&lc->lock);
        return t;
}

/* 1 when the VM's seed volume is not in its pool, 0 when it is, -1 when the
 * pool cannot be read. */
static int seed_missing(virConnectPtr vc, const ProvisionSpec *spec) {
        _cleanup_(poolp) virStoragePoolPtr pool = NULL;
        _cleanup_(volp) virStorageVolPtr vol = NULL;
        _cleanup_(freep) char *name = NULL;

        pool = virStoragePoolLookupByName(vc, isempty(spec->pool) ? "default" : spec->pool);
        if (!pool || libvirt_xml_seed_name(spec->resource_id, &name) < 0)
                return -1;
        vol = virStorageVolLookupByName(pool, name);
        if (vol)
                return 0;
        virResetLastError();
        return 1;
}

static int lv_provision(DriverConn *c, const ProvisionSpec *spec, char **ret_provider_ref, CbError *err) {
        LibvirtConn *lc = lc_of(c);
        _cleanup_(connp) virConnectPtr vc = NULL;
        _cleanup_(domp) virDomainPtr d = NULL;
        _cleanup_(freep) char *xml = NULL;
        int r;

        if ((r = acquire(lc, &vc, err)) < 0)
                return r;
        /* A volume of its own: creating it is the whole provision, idempotent by name. */
        if (spec->kind == DRIVER_OBJECT_VOLUME)
                return ensure_volume(vc, spec, ret_provider_ref, err);

        /* Idempotency: the resource already has its domain. */
        const DriverRef ref = { .resource_id = spec->resource_id, .pool = spec->pool };
        r = find_domain(vc, &ref, &d, err);
        if (r == 0) {
                /* A domain whose seed is gone (deleted by hand, a pool
                 * rebuilt) would not start: its read-only disk names it. It
                 * is made again; one that is there is left (a running guest
                 * may hold it open). */
                if (spec->seed_meta_data && virDomainIsActive(d) != 1) {
                        int missing = seed_missing(vc, spec);
                        if (missing < 0)
                                return lv_error(err, "cannot look up the first-boot seed");
                        if (missing > 0 && (r = ensure_seed(lc, vc, spec, err)) < 0)
                                return r;
                }
                if ((r = ensure_running(d, err)) < 0)
                        return r;
                return uuid_of(d, ret_provider_ref, err);
        }
        if (r != -ENOENT)
                return r; /* includes a same-named domain that is not ours */
        cb_error_clear(err);

        const char *type = domain_type_for(lc, spec->arch, spec->domain_type);
        if (!type && spec->domain_type != DRIVER_DOMAIN_AUTO)
                return cb_error_set_field(err, CB_ERR_UNPROCESSABLE, "domain_type",
                                          "the provider is set to domain_type '%s', which the host does "
                                          "not offer for %s",
                                          driver_domain_type_to_string(spec->domain_type),
                                          spec->arch ? spec->arch : "x86_64");
        if (!type)
                return cb_error_set_field(err, CB_ERR_UNPROCESSABLE, "arch",
                                          "the provider runs no kvm, qemu or test domains for %s",
                                          spec->arch ? spec->arch : "x86_64");
        /* A local copy: the disk's format follows from its pool. */
        ProvisionSpec s = *spec;
        if (s.image_volume && s.disk_gib > 0 && (r = system_disk_format(vc, s.pool, &s.disk_format, err)) < 0)
                return r;
        if ((r = libvirt_xml_domain(&s, type, &xml, err)) < 0)
                return r;

        if (s.disk_gib > 0 && (r = s.image_volume ? ensure_system_disk(lc, vc, &s, err)
                                                  : ensure_volume(vc, spec, NULL, err)) < 0)
                return r;
        if (s.seed_meta_data && (r = ensure_seed(lc, vc, &s, err)) < 0)
                goto rollback;

        d = virDomainDefineXML(vc, xml);
        if (!d) {
                _cleanup_(errorp) virErrorPtr e = virSaveLastError();
                /* A concurrent provision of the same resource defined it first:
                 * its domain (and volume) are the answer, not something to roll back. */
                int q = find_domain(vc, &ref, &d, NULL);
                if (q == 0) {
                        virResetLastError();
                        if ((r = ensure_running(d, err)) < 0)
                                return r;
                        return uuid_of(d, ret_provider_ref, err);
                }
                r = error_from(err, "cannot define domain", e);
                if (q == -EBUSY) /* a same-named domain appeared that is not ours */
                        return r;
                goto rollback;
        }
        if ((r = ensure_running(d, err)) < 0)
                goto rollback;
        return uuid_of(d, ret_provider_ref, err);

rollback:
        /* Leave nothing behind that no record points to; keep the first error. */
        if (d) {
                if (force_off(d, NULL) < 0 || undefine(d, NULL) < 0)
                        virResetLastError();
        }
        if ((spec->disk_gib > 0 || spec->seed_meta_data) &&
            delete_volume(vc, spec->pool, spec->resource_id, NULL) < 0)
                virResetLastError();
        return r;
}

static int lv_lookup(DriverConn *c, const DriverRef *ref, DriverInstance *ret, CbError *err) {
        _cleanup_(connp) virConnectPtr vc = NULL;
        _cleanup_(domp) virDomainPtr d = NULL;
        int r;
        if ((r = acquire(lc_of(c), &vc, err)) < 0 || (r = find_domain(vc, ref, &d, err)) < 0)
                return r;
        return fill_instance(d, ret, err);
}

static int lv_start(DriverConn *c, const DriverRef *ref, CbError *err) {
        _cleanup_(connp) virConnectPtr vc = NULL;
        _cleanup_(domp) virDomainPtr d = NULL;
        int r;
        if ((r = acquire(lc_of(c), &vc, err)) < 0 || (r = find_domain(vc, ref, &d, err)) < 0)
                return r;
        return ensure_running(d, err);
}

static uint64_t now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Shuts d down, forced off after timeout_ms (0: at once); off already is success. */
static int stop_domain(virDomainPtr d, unsigned timeout_ms, CbError *err) {
        if (virDomainIsActive(d) == 0)
                return 0;
        if (timeout_ms == 0)
                return force_off(d, err);

        if (virDomainShutdown(d) < 0) {
                if (virDomainIsActive(d) == 0) {
                        virResetLastError();
                        return 0;
                }
                /* No way to ask nicely (no ACPI, no agent): go straight to force. */
                virResetLastError();
                return force_off(d, err);
        }
        /* The guest may ignore the request: wait, bounded, then force. */
        uint64_t deadline = now_ms() + timeout_ms;
        for (;;) {
                int active = virDomainIsActive(d);
                if (active == 0)
                        return 0;
                if (active < 0)
                        return last_code() == VIR_ERR_NO_DOMAIN ? (virResetLastError(), 0)
                                                                : lv_error(err, "cannot read domain state");
                uint64_t now = now_ms();
                if (now >= deadline)
                        break;
                if (driver_waits_cancelled())
                        return -ECANCELED; /* the daemon is stopping: run again on restart */
                uint64_t wait = deadline - now < 100 ? deadline - now : 100;
                nanosleep(&(struct timespec){ .tv_nsec = (long)wait * 1000000 }, NULL);
        }
        return force_off(d, err);
}

static int lv_stop(DriverConn *c, const DriverRef *ref, unsigned timeout_ms, CbError *err) {
        _cleanup_(connp) virConnectPtr vc = NULL;
        _cleanup_(domp) virDomainPtr d = NULL;
        int r;
        if ((r = acquire(lc_of(c), &vc, err)) < 0 || (r = find_domain(vc, ref, &d, err)) < 0)
                return r;
        return stop_domain(d, timeout_ms, err);
}

/* Sets the persistent definition's vCPUs and memory; each only where it
 * differs, the maximum first when it grows and last when it shrinks (the
 * current value may never exceed it). */
static int set_size(virDomainPtr d, unsigned vcpus, unsigned long mem_kib, const virDomainInfo *have,
                    CbError *err) {
        const unsigned cfg = VIR_DOMAIN_AFFECT_CONFIG;
        if (vcpus != have->nrVirtCpu) {
                bool grow = vcpus > have->nrVirtCpu;
                for (int step = 0; step < 2; step++) {
                        bool max = (step == 0) == grow;
                        if (virDomainSetVcpusFlags(d, vcpus, cfg | (max ? VIR_DOMAIN_VCPU_MAXIMUM : 0)) < 0)
                                return lv_error(err, "cannot set the VM's vCPUs");
                }
        }
        if (mem_kib != have->maxMem) {
                bool grow = mem_kib > have->maxMem;
                for (int step = 0; step < 2; step++) {
                        bool max = (step == 0) == grow;
                        if (virDomainSetMemoryFlags(d, mem_kib, cfg | (max ? VIR_DOMAIN_MEM_MAXIMUM : 0)) < 0)
                                return lv_error(err, "cannot set the VM's memory");
                }
        }
        return 0;
}

/* Grows the resource's system disk to gib; one that has it already is left. */
static int grow_disk(virConnectPtr vc, const char *pool_name, const char *resource_id, uint64_t gib,
                     CbError *err) {
        _cleanup_(poolp) virStoragePoolPtr pool = NULL;
        _cleanup_(volp) virStorageVolPtr vol = NULL;
        _cleanup_(freep) char *name = NULL;
        virStorageVolInfo info;
        uint64_t want = gib * 1024ULL * 1024 * 1024;

        if (gib == 0)
                return 0;
        if (libvirt_xml_volume_name(resource_id, &name) < 0)
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        pool = virStoragePoolLookupByName(vc, isempty(pool_name) ? "default" : pool_name);
        if (!pool)
                return lv_error(err, "cannot look up the system disk's storage pool");
        vol = virStorageVolLookupByName(pool, name);
        if (!vol)
                return lv_error(err, "cannot look up the system disk");
        if (virStorageVolGetInfo(vol, &info) < 0)
                return lv_error(err, "cannot read the system disk");
        if (info.capacity >= want)
                return 0;
        if (virStorageVolResize(vol, want, 0) < 0)
                return lv_error(err, "cannot grow the system disk");
        return 0;
}

static int lv_resize(DriverConn *c, const DriverRef *ref, const ResizeSpec *spec, CbError *err) {
        _cleanup_(connp) virConnectPtr vc = NULL;
        _cleanup_(domp) virDomainPtr d = NULL;
        virDomainInfo old;
        int r;

        if ((r = acquire(lc_of(c), &vc, err)) < 0 || (r = find_domain(vc, ref, &d, err)) < 0)
                return r;
        if ((r = stop_domain(d, spec->stop_timeout_ms, err)) < 0)
                return r;
        /* Shut off, the info is the persistent definition's: what a rollback puts back. */
        if (virDomainGetInfo(d, &old) < 0)
                return lv_error(err, "cannot read the VM's size");
        r = set_size(d, spec->vcpus, (unsigned long)(spec->memory_mib * 1024), &old, err);
        if (r >= 0)
                r = grow_disk(vc, spec->pool, ref->resource_id, spec->disk_gib, err);
        if (r >= 0 && spec->run)
                r = ensure_running(d, err);
        if (r >= 0)
                return 0;

        /* Back to the size it had, and running again if it ran. */
        virDomainInfo now;
        bool restored =
                virDomainGetInfo(d, &now) == 0 && set_size(d, old.nrVirtCpu, old.maxMem, &now, NULL) >= 0;
        if (restored && spec->run && virDomainIsActive(d) != 1)
                restored = ensure_running(d, NULL) >= 0;
        virResetLastError();
        if (!restored && err) {
                size_t n = strlen(err->message);
                snprintf(err->message + n, sizeof(err->message) - n,
                         "; and the VM could not be put back as it was");
        }
        return r;
}

static int lv_reboot(DriverConn *c, const DriverRef *ref, CbError *err) {
        _cleanup_(connp) virConnectPtr vc = NULL;
        _cleanup_(domp) virDomainPtr d = NULL;
        int r;
        if ((r = acquire(lc_of(c), &vc, err)) < 0 || (r = find_domain(vc, ref, &d, err)) < 0)
                return r;
        if (virDomainIsActive(d) != 1)
                return cb_error_set(err, CB_ERR_CONFLICT, "domain of resource %s is not running",
                                    ref->resource_id);
        if (virDomainReboot(d, 0) < 0)
                return lv_error(err, "cannot reboot domain");
        return 0;
}

static int lv_deprovision(DriverConn *c, const DriverRef *ref, CbError *err) {
        _cleanup_(connp) virConnectPtr vc = NULL;
        _cleanup_(domp) virDomainPtr d = NULL;
        int r;
        if ((r = acquire(lc_of(c), &vc, err)) < 0)
                return r;
        if (ref->kind == DRIVER_OBJECT_VOLUME)
                return delete_volume(vc, ref->pool, ref->resource_id, err);
        r = find_domain(vc, ref, &d, err);
        if (r == -ENOENT)
                cb_error_clear(err); /* already gone: still make sure of the volume */
        else if (r < 0)
                return r;
        else if ((r = force_off(d, err)) < 0 || (r = undefine(d, err)) < 0)
                return r;
        return delete_volume(vc, ref->pool, ref->resource_id, err);
}

/* Whether the persistent definition of d (flags 0: the live one) has the
 * disk whose serial is volume_id: 1, 0, or -errno. */
static int has_volume_disk(virDomainPtr d, unsigned flags, const char *volume_id, CbError *err) {
        _cleanup_(freep) char *xml = virDomainGetXMLDesc(d, flags), *serial = NULL;
        if (!xml)
                return lv_error(err, "cannot read the domain's definition");
        if (asprintf(&serial, "<serial>%s</serial>", volume_id) < 0)
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        return strstr(xml, serial) != NULL;
}

static int redefine_with_volume(virConnectPtr vc, virDomainPtr d, const char *disk, const char *volume_id,
                                bool attach, CbError *err) {
        _cleanup_(freep) char *xml = virDomainGetXMLDesc(d, VIR_DOMAIN_XML_INACTIVE | VIR_DOMAIN_XML_SECURE),
                              *edited = NULL;
        virDomainPtr nd;
        int r;

        if (!xml)
                return lv_error(err, "cannot read the domain's definition");
        r = attach ? libvirt_xml_add_device(xml, disk, &edited)
                   : libvirt_xml_remove_disk(xml, volume_id, &edited);
        if (r == -ENOENT)
                return 0; /* not there: detached already */
        if (r < 0)
                return cb_error_set(err, CB_ERR_INTERNAL, "cannot edit the domain's definition: %s",
                                    strerror(-r));
        nd = virDomainDefineXML(vc, edited);
        if (!nd)
                return lv_error(err, attach ? "cannot attach the volume" : "cannot detach the volume");
        virDomainFree(nd);
        return 0;
}

static int lv_attach_volume(DriverConn *c, const DriverRef *ref, const char *pool, const char *volume_id,
                            const char *target, bool attach, CbError *err) {
        _cleanup_(connp) virConnectPtr vc = NULL;
        _cleanup_(domp) virDomainPtr d = NULL;
        _cleanup_(freep) char *xml = NULL;
        unsigned flags = 0;
        int r, active, persistent;

        if ((r = acquire(lc_of(c), &vc, err)) < 0 || (r = find_domain(vc, ref, &d, err)) < 0)
                return r;
        if ((r = libvirt_xml_attached_disk(pool, volume_id, target, &xml, err)) < 0)
                return r;
        active = virDomainIsActive(d);
        persistent = virDomainIsPersistent(d);
        if (active < 0 || persistent < 0)
                return lv_error(err, "cannot read domain state");
        /* Each definition changed only where it lacks (or has) the disk: a
         * retried operation finishes what a crash left half-done. */
        if (persistent) {
                r = has_volume_disk(d, VIR_DOMAIN_XML_INACTIVE, volume_id, err);
                if (r < 0)
                        return r;
                if (r != attach)
                        flags |= VIR_DOMAIN_AFFECT_CONFIG;
        }
        if (active) {
                r = has_volume_disk(d, 0, volume_id, err);
                if (r < 0)
                        return r;
                if (r != attach)
                        flags |= VIR_DOMAIN_AFFECT_LIVE;
        }
        if (flags == 0)
                return 0;
        r = attach ? virDomainAttachDeviceFlags(d, xml, flags) : virDomainDetachDeviceFlags(d, xml, flags);
        if (r < 0 && last_code() == VIR_ERR_NO_SUPPORT && (flags & VIR_DOMAIN_AFFECT_CONFIG)) {
                /* A driver without device changes (libvirt's test driver): the
                 * persistent definition only, defined again; a running domain
                 * sees the change at its next start. */
                virResetLastError();
                return redefine_with_volume(vc, d, xml, volume_id, attach, err);
        }
        if (r < 0)
                return lv_error(err, attach ? "cannot attach the volume" : "cannot detach the volume");
        return 0;
}

/* Appends the broker-named volumes of one pool to inv. */
static int add_pool_volumes(virStoragePoolPtr pool, DriverInventory *inv, CbError *err) {
        virStorageVolPtr *vols = NULL;
        int n = virStoragePoolListAllVolumes(pool, &vols, 0);
        int r = 0;
        if (n < 0) {
                if (last_code() == VIR_ERR_NO_STORAGE_POOL || last_code() == VIR_ERR_OPERATION_INVALID) {
                        virResetLastError(); /* removed or stopped while we listed */
                        return 0;
                }
                return lv_error(err, "cannot list volumes");
        }
        for (int i = 0; i < n && r == 0; i++) {
                const char *name = virStorageVolGetName(vols[i]);
                char *id = NULL;
                if (libvirt_xml_volume_resource_id(name, &id) < 0)
                        continue;
                DriverInstance *items = realloc(inv->items, (inv->n_items + 1) * sizeof(*items));
                if (!items) {
                        free(id);
                        r = cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
                        break;
                }
                inv->items = items;
                DriverInstance in = { .kind = DRIVER_OBJECT_VOLUME,
                                      .state = DRIVER_STATE_PRESENT,
                                      .managed = true,
                                      .stamp.resource_id = id };
                virStorageVolInfo info;
                if (virStorageVolGetInfo(vols[i], &info) == 0)
                        in.size_gib = info.capacity >> 30;
                else
                        virResetLastError();
                const char *key = virStorageVolGetKey(vols[i]);
                in.name = strdup(name);
                in.provider_ref = key ? strdup(key) : NULL;
                virResetLastError();
                if (!in.name || (key && !in.provider_ref)) {
                        driver_instance_done(&in);
                        r = cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
                        break;
                }
                inv->items[inv->n_items++] = in;
        }
        for (int i = 0; i < n; i++)
                virStorageVolFree(vols[i]);
        free(vols);
        return r;
}

/* The broker-named volumes of every active pool; a host without storage
 * pools has none. */
static int add_volumes(virConnectPtr vc, DriverInventory *inv, CbError *err) {
        virStoragePoolPtr *pools = NULL;
        int n = virConnectListAllStoragePools(vc, &pools, VIR_CONNECT_LIST_STORAGE_POOLS_ACTIVE);
        int r = 0;
        if (n < 0) {
                if (last_code() == VIR_ERR_NO_SUPPORT) {
                        virResetLastError();
                        return 0;
                }
                return lv_error(err, "cannot list storage pools");
        }
        for (int i = 0; i < n && r == 0; i++)
                r = add_pool_volumes(pools[i], inv, err);
        for (int i = 0; i < n; i++)
                virStoragePoolFree(pools[i]);
        free(pools);
        return r;
}

/* The disks of the domain's persistent definition and, when it runs, of the
 * live one: what is on it, whoever put it there (virsh attach-disk too).
 * Read here, on the worker: the loop never parses XML. -ENOENT: gone. */
static int read_disks(virDomainPtr d, DriverInstance *in, CbError *err) {
        int active = virDomainIsActive(d), persistent = virDomainIsPersistent(d);
        if (active < 0 || persistent < 0) {
                if (last_code() == VIR_ERR_NO_DOMAIN) {
                        virResetLastError();
                        return -ENOENT;
                }
                return lv_error(err, "cannot read domain state");
        }
        for (int pass = 0; pass < 2; pass++) {
                bool live = pass == 1;
                if (live ? !active : !persistent)
                        continue;
                _cleanup_(freep) char *xml = virDomainGetXMLDesc(d, live ? 0 : VIR_DOMAIN_XML_INACTIVE);
                if (!xml) {
                        if (last_code() == VIR_ERR_NO_DOMAIN) {
                                virResetLastError();
                                return -ENOENT;
                        }
                        return lv_error(err, "cannot read the domain's definition");
                }
                int r = libvirt_xml_merge_disks(xml, live, &in->disks, &in->n_disks);
                if (r == -ENOMEM)
                        return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
                if (r < 0)
                        return cb_error_set(err, CB_ERR_INTERNAL, "domain %s: cannot read its disks: %s",
                                            in->name, strerror(-r));
        }
        return 0;
}

static int lv_inventory(DriverConn *c, DriverInventory **ret, CbError *err) {
        _cleanup_(connp) virConnectPtr vc = NULL;
        virDomainPtr *doms = NULL;
        int r;
        if ((r = acquire(lc_of(c), &vc, err)) < 0)
                return r;
        int n = virConnectListAllDomains(vc, &doms, 0);
        if (n < 0)
                return lv_error(err, "cannot list domains");

        _cleanup_(driver_inventory_freep) DriverInventory *inv = calloc(1, sizeof(*inv));
        if (!inv || (n > 0 && !(inv->items = calloc(n, sizeof(DriverInstance))))) {
                r = cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
                goto out;
        }
        for (int i = 0; i < n; i++) {
                r = fill_instance(doms[i], &inv->items[inv->n_items], err);
                if (r == 0 && (r = read_disks(doms[i], &inv->items[inv->n_items], err)) < 0)
                        driver_instance_done(&inv->items[inv->n_items]);
                if (r == -ENOENT) { /* undefined while we listed */
                        cb_error_clear(err);
                        continue;
                }
                if (r < 0)
                        goto out;
                inv->n_items++;
        }
        if ((r = add_volumes(vc, inv, err)) < 0)
                goto out;
        *ret = TAKE_PTR(inv);
        r = 0;
out:
        for (int i = 0; i < n; i++)
                virDomainFree(doms[i]);
        free(doms);
        return r;
}

static int lv_capacity(DriverConn *c, DriverCapacity *ret, CbError *err) {
        _cleanup_(connp) virConnectPtr vc = NULL;
        virDomainPtr *doms = NULL;
        virNodeInfo node;
        int r;
        if ((r = acquire(lc_of(c), &vc, err)) < 0)
                return r;
        if (virNodeGetInfo(vc, &node) < 0)
                return lv_error(err, "cannot read host information");
        int n = virConnectListAllDomains(vc, &doms, VIR_CONNECT_LIST_DOMAINS_ACTIVE);
        if (n < 0)
                return lv_error(err, "cannot list domains");

        DriverCapacity cap = { .total_vcpus = node.cpus, .total_memory_mib = node.memory / 1024 };
        for (int i = 0; i < n; i++) {
                virDomainInfo info;
                if (virDomainGetInfo(doms[i], &info) == 0) {
                        cap.used_vcpus += info.nrVirtCpu;
                        cap.used_memory_mib += info.maxMem / 1024;
                        cap.running++;
                } else
                        virResetLastError(); /* stopped while we counted */
                virDomainFree(doms[i]);
        }
        free(doms);
        virStoragePoolPtr *pools = NULL;
        int np = virConnectListAllStoragePools(vc, &pools, VIR_CONNECT_LIST_STORAGE_POOLS_ACTIVE);
        if (np >= 0) {
                cap.pools_complete = np <= DRIVER_POOLS_MAX;
                for (int i = 0; i < np; i++) {
                        const char *name = virStoragePoolGetName(pools[i]);
                        if (name && cap.n_pools < DRIVER_POOLS_MAX && strlen(name) < sizeof(cap.pools[0]))
                                snprintf(cap.pools[cap.n_pools++], sizeof(cap.pools[0]), "%s", name);
                        else
                                cap.pools_complete = false; /* a name we cannot keep: do not rule it out */
                        virStoragePoolFree(pools[i]);
                }
                free(pools);
        } else
                virResetLastError(); /* no storage driver: pools unknown, nothing ruled out */
        cap.free_vcpus = cap.used_vcpus < cap.total_vcpus ? cap.total_vcpus - cap.used_vcpus : 0;
        cap.free_memory_mib =
                cap.used_memory_mib < cap.total_memory_mib ? cap.total_memory_mib - cap.used_memory_mib : 0;
        *ret = cap;
        return 0;
}

/* --- OS images: read a volume whole, digest it ------------------------------ */

#define IMAGE_CHUNK (256 * 1024)

/* What a volume may yield at most: its virtual size plus what a qcow2
 * container adds (metadata, tables), so a provider that streams without
 * end cannot hold the worker forever. */
static uint64_t image_read_limit(uint64_t capacity) {
        return capacity + capacity / 8 + 64ULL * 1024 * 1024;
}

static int digest_stream(virConnectPtr vc, virStorageVolPtr vol, uint64_t limit, DigestCtx *d,
                         uint64_t *ret_read, CbError *err) {
        virStreamPtr st = virStreamNew(vc, 0);
        _cleanup_(freep) char *buf = malloc(IMAGE_CHUNK);
        uint64_t total = 0;
        int n;

        if (!st || !buf) {
                if (st)
                        virStreamFree(st);
                return st ? cb_error_set(err, CB_ERR_INTERNAL, "out of memory")
                          : lv_error(err, "cannot open a stream");
        }
        if (virStorageVolDownload(vol, st, 0, 0, 0) < 0) {
                int r = lv_error(err, "cannot download the volume");
                virStreamFree(st);
                return r;
        }
        while ((n = virStreamRecv(st, buf, IMAGE_CHUNK)) > 0) {
                total += (uint64_t)n;
                if (total > limit || digest_update(d, buf, (size_t)n) < 0) {
                        virStreamAbort(st);
                        virStreamFree(st);
                        return cb_error_set(err, CB_ERR_UNPROCESSABLE,
                                            total > limit ? "the volume streams more than its size"
                                                          : "cannot digest the volume");
                }
                if (driver_waits_cancelled()) {
                        virStreamAbort(st);
                        virStreamFree(st);
                        return cb_error_set(err, CB_ERR_UNAVAILABLE, "cancelled: the daemon is stopping");
                }
        }
        if (n < 0 || virStreamFinish(st) < 0) {
                int r = lv_error(err, "cannot read the volume");
                if (n < 0)
                        virStreamAbort(st);
                virStreamFree(st);
                return r;
        }
        virStreamFree(st);
        *ret_read = total;
        return 0;
}

/* libvirt's test driver keeps no volume content and has no download: there
 * a volume's path (from the node XML) is read on this host instead. Only
 * for test:// connections, which are in-process by definition. */
static int digest_local_path(virStorageVolPtr vol, uint64_t limit, DigestCtx *d, uint64_t *ret_read,
                             CbError *err) {
        _cleanup_(freep) char *path = virStorageVolGetPath(vol);
        _cleanup_(freep) char *buf = malloc(IMAGE_CHUNK);
        uint64_t total = 0;
        ssize_t n;
        int fd;

        if (!path)
                return lv_error(err, "cannot read the volume's path");
        if (!buf)
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        if (fd < 0)
                return cb_error_set(err, CB_ERR_UNPROCESSABLE, "cannot read volume %s: %s", path,
                                    strerror(errno));
        while ((n = read(fd, buf, IMAGE_CHUNK)) > 0) {
                total += (uint64_t)n;
                if (total > limit || digest_update(d, buf, (size_t)n) < 0) {
                        close(fd);
                        return cb_error_set(err, CB_ERR_UNPROCESSABLE, "volume %s is larger than its size",
                                            path);
                }
        }
        close(fd);
        if (n < 0)
                return cb_error_set(err, CB_ERR_UNPROCESSABLE, "cannot read volume %s", path);
        *ret_read = total;
        return 0;
}

/* Reads vol whole and digests it (alg); its format and virtual size too. */
/* The volume's fingerprint (libvirt_xml_volume_fingerprint). libvirt's test
 * driver keeps no timestamps: its volumes are files the broker reads at
 * their path (digest_local_path), so there the file's own stat stands in. */
static int volume_fingerprint(LibvirtConn *lc, virStorageVolPtr vol, const char *xml, char *ret,
                              size_t size) {
        int r = libvirt_xml_volume_fingerprint(xml, ret, size);
        if (r != -ENODATA || strncmp(lc->uri, "test:", 5) != 0)
                return r;
        _cleanup_(freep) char *path = virStorageVolGetPath(vol);
        struct stat st;
        if (!path || stat(path, &st) < 0) {
                virResetLastError();
                return -ENODATA;
        }
        r = snprintf(ret, size, "key=%s;capacity=%lld;allocation=%lld;mtime=%lld.%09ld;ctime=%lld.%09ld;",
                     path, (long long)st.st_size, (long long)st.st_blocks, (long long)st.st_mtim.tv_sec,
                     st.st_mtim.tv_nsec, (long long)st.st_ctim.tv_sec, st.st_ctim.tv_nsec);
        return r < 0 || (size_t)r >= size ? -ENOSPC : 0;
}

/* The digest remembered for fingerprint fp and alg: true and *info's digest
 * and read_bytes (from_cache set), or false. */
static bool digest_cached(LibvirtConn *lc, const char *fp, const char *alg, DriverImageInfo *info) {
        bool hit = false;
        pthread_mutex_lock(&lc->digest_lock);
        for (size_t i = 0; i < ELEMENTSOF(lc->digests) && !hit; i++)
                if (streq(lc->digests[i].fingerprint, fp) && streq(lc->digests[i].alg, alg)) {
                        memcpy(info->digest, lc->digests[i].info.digest, sizeof(info->digest));
                        info->read_bytes = lc->digests[i].info.read_bytes;
                        info->from_cache = true;
                        hit = true;
                }
        pthread_mutex_unlock(&lc->digest_lock);
        return hit;
}

static void digest_remember(LibvirtConn *lc, const char *fp, const char *alg, const DriverImageInfo *info) {
        pthread_mutex_lock(&lc->digest_lock);
        size_t k = lc->next_digest++ % ELEMENTSOF(lc->digests);
        snprintf(lc->digests[k].fingerprint, sizeof(lc->digests[k].fingerprint), "%s", fp);
        snprintf(lc->digests[k].alg, sizeof(lc->digests[k].alg), "%s", alg);
        lc->digests[k].info = *info;
        pthread_mutex_unlock(&lc->digest_lock);
}

static int inspect_volume(LibvirtConn *lc, virConnectPtr vc, virStorageVolPtr vol, const char *alg,
                          DriverImageInfo *ret, CbError *err) {
        _cleanup_(freep) char *xml = NULL;
        DriverImageInfo info = { 0 };
        virStorageVolInfo vi;
        DigestCtx *d;
        int r;

        if (virStorageVolGetInfo(vol, &vi) < 0)
                return lv_error(err, "cannot read the volume");
        info.capacity_bytes = vi.capacity;
        xml = virStorageVolGetXMLDesc(vol, 0);
        if (!xml)
                return lv_error(err, "cannot read the volume's description");
        if (libvirt_xml_volume_format(xml, info.format, sizeof(info.format)) < 0)
                info.format[0] = 0;

        /* Read again only when the volume may have changed (docs/drivers.md:
         * what the cache trusts). */
        char fp[LIBVIRT_XML_FINGERPRINT_MAX];
        bool have_fp = volume_fingerprint(lc, vol, xml, fp, sizeof(fp)) == 0;
        if (have_fp && digest_cached(lc, fp, alg, &info)) {
                *ret = info;
                return 0;
        }

        d = digest_begin(alg);
        if (!d)
                return cb_error_set(err, CB_ERR_INTERNAL, "cannot start a %s digest", alg);
        r = digest_stream(vc, vol, image_read_limit(vi.capacity), d, &info.read_bytes, err);
        if (r < 0 && err && err->kind == CB_ERR_UNSUPPORTED && strncmp(lc->uri, "test:", 5) == 0) {
                cb_error_clear(err);
                r = digest_local_path(vol, image_read_limit(vi.capacity), d, &info.read_bytes, err);
        }
        if (r < 0) {
                digest_free(d);
                return r;
        }
        if (digest_end_hex(d, info.digest) < 0)
                return cb_error_set(err, CB_ERR_INTERNAL, "cannot finish the digest");
        if (have_fp)
                digest_remember(lc, fp, alg, &info);
        *ret = info;
        return 0;
}

/* The image's pool and volume; what is missing is NOT_FOUND naming field_pool/field_volume. */
static int find_image(virConnectPtr vc, const char *pool_name, const char *volume, const char *field_pool,
                      const char *field_volume, virStoragePoolPtr *ret_pool, virStorageVolPtr *ret_vol,
                      CbError *err) {
        virStoragePoolPtr pool = virStoragePoolLookupByName(vc, pool_name);
        virStorageVolPtr vol;

        if (!pool) {
                if (last_code() == VIR_ERR_NO_STORAGE_POOL) {
                        virResetLastError();
                        return cb_error_set_field(err, CB_ERR_NOT_FOUND, field_pool,
                                                  "%s: the provider has no storage pool '%s'", field_pool,
                                                  pool_name);
                }
                return lv_error(err, "cannot look up storage pool");
        }
        vol = virStorageVolLookupByName(pool, volume);
        if (!vol) {
                int code = last_code();
                virStoragePoolFree(pool);
                if (code == VIR_ERR_NO_STORAGE_VOL) {
                        virResetLastError();
                        return cb_error_set_field(err, CB_ERR_NOT_FOUND, field_volume,
                                                  "%s: pool '%s' has no volume '%s'", field_volume, pool_name,
                                                  volume);
                }
                return lv_error(err, "cannot look up volume");
        }
        if (ret_pool)
                *ret_pool = pool;
        else
                virStoragePoolFree(pool);
        *ret_vol = vol;
        return 0;
}

static int lv_image_inspect(DriverConn *c, const char *pool_name, const char *volume, const char *alg,
                            DriverImageInfo *ret, CbError *err) {
        LibvirtConn *lc = lc_of(c);
        _cleanup_(connp) virConnectPtr vc = NULL;
        _cleanup_(volp) virStorageVolPtr vol = NULL;
        int r;

        if ((r = acquire(lc, &vc, err)) < 0)
                return r;
        if ((r = find_image(vc, pool_name, volume, "pool", "volume", NULL, &vol, err)) < 0)
                return r;
        return inspect_volume(lc, vc, vol, alg, ret, err);
}

/* The volume behind a disk source: a path any pool knows, or "pool/volume". */
static virStorageVolPtr volume_of(virConnectPtr vc, const char *source) {
        if (source[0] == '/')
                return virStorageVolLookupByPath(vc, source);
        const char *slash = strchr(source, '/');
        if (!slash)
                return NULL;
        _cleanup_(freep) char *pool_name = strndup(source, slash - source);
        _cleanup_(poolp) virStoragePoolPtr pool =
                pool_name ? virStoragePoolLookupByName(vc, pool_name) : NULL;
        return pool ? virStorageVolLookupByName(pool, slash + 1) : NULL;
}

static int lv_assess_domain(DriverConn *c, const char *name, LegacyVm *ret, CbError *err);

static int lv_adopt_domain(DriverConn *c, const char *domain, const DriverStamp *stamp, DriverInstance *ret,
                           CbError *err) {
        _cleanup_(connp) virConnectPtr vc = NULL;
        _cleanup_(domp) virDomainPtr d = NULL;
        _cleanup_(freep) char *xml = NULL;
        DriverStamp old = { 0 };
        int r;

        if ((r = acquire(lc_of(c), &vc, err)) < 0)
                return r;
        d = virDomainLookupByUUIDString(vc, domain);
        if (!d) {
                virResetLastError();
                d = virDomainLookupByName(vc, domain);
        }
        if (!d) {
                if (last_code() == VIR_ERR_NO_DOMAIN) {
                        virResetLastError();
                        return cb_error_set_field(err, CB_ERR_NOT_FOUND, "domain", "domain: no domain '%s'",
                                                  domain);
                }
                return lv_error(err, "cannot look up the domain");
        }
        r = read_stamp(d, &old, err);
        /* An adoption run again after a restart finds its own stamp: done already. */
        bool ours = r == 0 && old.resource_id && streq(old.resource_id, stamp->resource_id);
        driver_stamp_done(&old);
        if (ours)
                return fill_instance(d, ret, err);
        if (r == 0 || r == -EBADMSG)
                return cb_error_set_field(err, CB_ERR_CONFLICT, "domain",
                                          "domain: '%s' already carries the broker's stamp", domain);
        if (r != -ENOENT)
                return r;
        cb_error_clear(err);
        if ((r = libvirt_xml_stamp(stamp, &xml, err)) < 0)
                return r;
        unsigned flags = VIR_DOMAIN_AFFECT_CONFIG | (virDomainIsActive(d) == 1 ? VIR_DOMAIN_AFFECT_LIVE : 0);
        if (virDomainSetMetadata(d, VIR_DOMAIN_METADATA_ELEMENT, xml, CB_XML_NS_PREFIX, CB_XML_NS_URI,
                                 flags) < 0)
                return lv_error(err, "cannot stamp the domain");
        return fill_instance(d, ret, err);
}

static int lv_undefine_source(DriverConn *c, const char *name, bool remove_disks, CbError *err) {
        _cleanup_(connp) virConnectPtr vc = NULL;
        _cleanup_(domp) virDomainPtr d = NULL;
        _cleanup_(freep) LegacyVm *vm = NULL;
        DriverStamp st = { 0 };
        int r;

        if ((r = acquire(lc_of(c), &vc, err)) < 0)
                return r;
        d = virDomainLookupByName(vc, name);
        if (!d) {
                if (last_code() == VIR_ERR_NO_DOMAIN) {
                        virResetLastError();
                        return 0;
                }
                return lv_error(err, "cannot look up the source domain");
        }
        r = read_stamp(d, &st, err);
        driver_stamp_done(&st);
        if (r == 0)
                return cb_error_set(err, CB_ERR_CONFLICT,
                                    "domain %s carries the broker's stamp: it is no source to decommission",
                                    name);
        cb_error_clear(err);
        if (virDomainIsActive(d) != 0)
                return cb_error_set(err, CB_ERR_CONFLICT,
                                    "source domain %s is not shut off: refusing to undefine it", name);
        if (remove_disks) {
                vm = calloc(1, sizeof(*vm));
                if (!vm)
                        return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
                if ((r = lv_assess_domain(c, name, vm, err)) < 0)
                        return r;
                for (size_t i = 0; i < vm->n_disks; i++) {
                        const char *src = vm->disks[i].source;
                        if (!streq(vm->disks[i].device, "disk") || isempty(src))
                                continue;
                        /* A path the host's pools know, or "pool/volume". */
                        _cleanup_(volp) virStorageVolPtr v = virStorageVolLookupByPath(vc, src);
                        if (!v && src[0] != '/' && strchr(src, '/')) {
                                char pool[256];
                                snprintf(pool, sizeof(pool), "%.*s", (int)(strchr(src, '/') - src), src);
                                _cleanup_(poolp) virStoragePoolPtr pl = virStoragePoolLookupByName(vc, pool);
                                v = pl ? virStorageVolLookupByName(pl, strchr(src, '/') + 1) : NULL;
                        }
                        virResetLastError();
                        if (v && virStorageVolDelete(v, 0) < 0)
                                return lv_error(err, "cannot delete a disk of the source domain");
                }
        }
        return undefine(d, err);
}

static int lv_assess_domain(DriverConn *c, const char *name, LegacyVm *ret, CbError *err) {
        LibvirtConn *lc = lc_of(c);
        _cleanup_(connp) virConnectPtr vc = NULL;
        _cleanup_(domp) virDomainPtr d = NULL;
        _cleanup_(freep) char *xml = NULL;
        _cleanup_(freep) LegacyVm *vm = calloc(1, sizeof(*vm));
        int r;

        if (!vm)
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        r = acquire(lc, &vc, err);
        if (r < 0)
                return r;
        d = virDomainLookupByName(vc, name);
        if (!d) {
                if (last_code() == VIR_ERR_NO_DOMAIN) {
                        virResetLastError();
                        return cb_error_set(err, CB_ERR_NOT_FOUND, "no domain '%s' on %s", name, lc->uri);
                }
                return lv_error(err, "cannot look the domain up");
        }
        /* The persistent definition: what a cold migration moves. */
        xml = virDomainGetXMLDesc(d, VIR_DOMAIN_XML_INACTIVE);
        if (!xml)
                return lv_error(err, "cannot read the domain's XML");
        r = legacy_vm_parse(xml, vm, err);
        if (r < 0)
                return r;
        int st, reason;
        if (virDomainGetState(d, &st, &reason, 0) == 0)
                snprintf(vm->power, sizeof(vm->power), "%s",
                         st == VIR_DOMAIN_RUNNING   ? "running"
                         : st == VIR_DOMAIN_PAUSED  ? "paused"
                         : st == VIR_DOMAIN_SHUTOFF ? "shutoff"
                                                    : "other");
        else
                virResetLastError();
        for (size_t i = 0; i < vm->n_disks; i++) {
                if (!vm->disks[i].source[0])
                        continue;
                _cleanup_(volp) virStorageVolPtr vol = volume_of(vc, vm->disks[i].source);
                _cleanup_(freep) char *vxml = vol ? virStorageVolGetXMLDesc(vol, 0) : NULL;
                virResetLastError(); /* a disk outside every pool stays unsized */
                if (vxml) {
                        r = legacy_vm_add_volume(vm, i, vxml, err);
                        if (r < 0)
                                return r;
                }
        }
        *ret = *vm;
        return 0;
}

static int lv_assess_image(DriverConn *c, const char *pool_volume, LegacyVm *ret, CbError *err) {
        _cleanup_(connp) virConnectPtr vc = NULL;
        _cleanup_(freep) LegacyVm *vm = calloc(1, sizeof(*vm));
        int r;

        if (!vm)
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        if ((r = acquire(lc_of(c), &vc, err)) < 0)
                return r;
        _cleanup_(volp) virStorageVolPtr vol = volume_of(vc, pool_volume);
        if (!vol) {
                int code = last_code();
                virResetLastError();
                if (code == VIR_ERR_NO_STORAGE_VOL || code == VIR_ERR_NO_STORAGE_POOL || code == 0)
                        return cb_error_set(err, CB_ERR_NOT_FOUND, "no volume '%s' on the source host",
                                            pool_volume);
                return cb_error_set(err, CB_ERR_UNAVAILABLE, "cannot look up the volume '%s'", pool_volume);
        }
        _cleanup_(freep) char *vxml = virStorageVolGetXMLDesc(vol, 0);
        if (!vxml)
                return lv_error(err, "cannot read the volume's XML");
        const char *slash = strchr(pool_volume, '/');
        snprintf(vm->name, sizeof(vm->name), "%s", slash + 1);
        vm->n_disks = 1;
        LegacyDisk *d = &vm->disks[0];
        snprintf(d->target, sizeof(d->target), "vda");
        snprintf(d->device, sizeof(d->device), "disk");
        snprintf(d->bus, sizeof(d->bus), "virtio");
        snprintf(d->source, sizeof(d->source), "%s", pool_volume);
        if ((r = legacy_vm_add_volume(vm, 0, vxml, err)) < 0)
                return r;
        *ret = *vm;
        return 0;
}

/* --- a cold move of a legacy VM (Art. 35) ------------------------------- */

#define COPY_CHUNK (256u * 1024u) /* libvirt's stream packets carry at most 256 KiB */

static void streamp(virStreamPtr *s) {
        if (*s)
                virStreamFree(*s);
}

static void mdp(EVP_MD_CTX **m) {
        EVP_MD_CTX_free(*m);
}

static const unsigned char zeros[COPY_CHUNK];

/* A hole reads as zeros: the digest covers the whole capacity. */
static void digest_zeros(EVP_MD_CTX *md, uint64_t n) {
        while (n > 0) {
                size_t k = n < sizeof(zeros) ? (size_t)n : sizeof(zeros);
                EVP_DigestUpdate(md, zeros, k);
                n -= k;
        }
}

static void md_hex(EVP_MD_CTX *md, char ret[65]) {
        unsigned char h[32];
        unsigned n = 0;
        EVP_DigestFinal_ex(md, h, &n);
        for (unsigned i = 0; i < 32; i++)
                snprintf(ret + 2 * i, 3, "%02x", h[i]);
}

typedef struct CopyState {
        const MigrateSpec *spec;
        MigrateStep step;
        size_t disk;    /* the disk at hand: 0 the system disk, then spec->extra's */
        uint64_t data0; /* data when its copy began */
        uint64_t total, done, data;
        uint64_t started_ms, last_report_ms;
} CopyState;

static void report(CopyState *cs, bool force) {
        uint64_t now = now_ms();
        if (!cs->spec->progress || (!force && now - cs->last_report_ms < 250))
                return;
        cs->last_report_ms = now;
        MigrateProgress p = { .step = cs->step,
                              .disk = cs->disk,
                              .disk_data = cs->data - cs->data0,
                              .step_done = cs->done,
                              .step_total = cs->total };
        cs->spec->progress(&p, cs->spec->userdata);
}

/* Reads vol as a sparse stream into the digest and, when out is set, into
 * out (holes as holes). The copy runs at most at the spec's rate. */
static int stream_volume(virConnectPtr vc, virStorageVolPtr vol, virStreamPtr out, EVP_MD_CTX *md,
                         CopyState *cs, CbError *err) {
        _cleanup_(streamp) virStreamPtr in = virStreamNew(vc, 0);
        _cleanup_(freep) char *buf = malloc(COPY_CHUNK);
        const MigrateSpec *spec = cs->spec;
        uint64_t t0 = now_ms(), data0 = cs->data;
        int r = 0;

        if (!in || !buf)
                return in ? cb_error_set(err, CB_ERR_INTERNAL, "out of memory")
                          : lv_error(err, "cannot open a stream");
        if (virStorageVolDownload(vol, in, 0, 0, VIR_STORAGE_VOL_DOWNLOAD_SPARSE_STREAM) < 0)
                return lv_error(err, "cannot download the volume");
        for (;;) {
                int n = virStreamRecvFlags(in, buf, COPY_CHUNK, VIR_STREAM_RECV_STOP_AT_HOLE);
                if (n == 0)
                        break;
                if (n == -3 || n == -2) {
                        long long hole = 0;
                        if (virStreamRecvHole(in, &hole, 0) < 0) {
                                r = lv_error(err, "cannot read a hole of the stream");
                                goto abort;
                        }
                        if (hole > 0) {
                                if (out && virStreamSendHole(out, hole, 0) < 0) {
                                        r = lv_error(err, "cannot send a hole to the target");
                                        goto abort;
                                }
                                digest_zeros(md, (uint64_t)hole);
                                cs->done += (uint64_t)hole;
                        }
                        continue;
                }
                if (n < 0) {
                        r = lv_error(err, "cannot read the volume's stream");
                        goto abort;
                }
                EVP_DigestUpdate(md, buf, (size_t)n);
                if (out) {
                        for (int sent = 0; sent < n;) {
                                int k = virStreamSend(out, buf + sent, (size_t)(n - sent));
                                if (k < 0) {
                                        r = lv_error(err, "cannot write to the target volume");
                                        goto abort;
                                }
                                sent += k;
                        }
                }
                cs->done += (uint64_t)n;
                cs->data += (uint64_t)n;
                if (out && spec->fail_after_bytes && cs->data > spec->fail_after_bytes) {
                        r = cb_error_set(err, CB_ERR_INTERNAL,
                                         "copy failed on purpose after %" PRIu64
                                         " bytes (migration.test_fail_after_bytes)",
                                         spec->fail_after_bytes);
                        goto abort;
                }
                if (driver_waits_cancelled()) {
                        r = cb_error_set(err, CB_ERR_UNAVAILABLE, "the daemon is stopping");
                        r = -ECANCELED;
                        goto abort;
                }
                /* Throttle: sleep until the data so far fits the rate. */
                if (out && spec->rate_limit_bps) {
                        uint64_t due = t0 + (cs->data - data0) * 1000 / spec->rate_limit_bps, now = now_ms();
                        if (due > now) {
                                uint64_t w = due - now;
                                nanosleep(&(struct timespec){ .tv_sec = (time_t)(w / 1000),
                                                              .tv_nsec = (long)(w % 1000) * 1000000 },
                                          NULL);
                        }
                }
                report(cs, false);
        }
        if (virStreamFinish(in) < 0)
                return lv_error(err, "cannot finish reading the volume");
        return 0;
abort:
        virStreamAbort(in);
        return r;
}

/* The scratch volume a disk of another format crosses into before libvirt
 * converts it: the target volume's name and ".src". */
static int scratch_name(const char *resource_id, char **ret) {
        _cleanup_(freep) char *name = NULL;
        if (libvirt_xml_volume_name(resource_id, &name) < 0 || asprintf(ret, "%s.src", name) < 0)
                return -ENOMEM;
        return 0;
}

/* The target volume (raw), or with scratch the scratch volume in the
 * disk's own format; from: convert that volume into the new one. */
static virStorageVolPtr target_volume(virConnectPtr vc, const char *target_pool, const char *resource_id,
                                      const char *source_format, uint64_t capacity, bool create, bool scratch,
                                      virStorageVolPtr from, CbError *err) {
        _cleanup_(poolp) virStoragePoolPtr pool = NULL;
        _cleanup_(freep) char *name = NULL, *xml = NULL;
        const char *pool_name = isempty(target_pool) ? "default" : target_pool;
        const char *format = scratch ? source_format : "raw";
        virStorageVolPtr vol;

        pool = virStoragePoolLookupByName(vc, pool_name);
        if (!pool) {
                lv_error(err, "cannot look up the target storage pool");
                return NULL;
        }
        if ((scratch ? scratch_name(resource_id, &name) : libvirt_xml_volume_name(resource_id, &name)) < 0) {
                cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
                return NULL;
        }
        if (!create)
                return virStorageVolLookupByName(pool, name);
        if (asprintf(&xml,
                     "<volume>\n  <name>%s</name>\n  <capacity unit='bytes'>%" PRIu64 "</capacity>\n"
                     "  <allocation unit='bytes'>0</allocation>\n"
                     "  <target>\n    <format type='%s'/>\n  </target>\n</volume>\n",
                     name, capacity, format) < 0) {
                cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
                return NULL;
        }
        vol = from ? virStorageVolCreateXMLFrom(pool, xml, from, 0) : virStorageVolCreateXML(pool, xml, 0);
        if (!vol)
                lv_error(err, from ? "cannot convert the disk into the target volume"
                                   : "cannot create the target volume");
        return vol;
}

static bool format_is_raw(const char *f) {
        return isempty(f) || streq(f, "raw");
}

/* Only formats qemu-img reads, and no names that could reach the volume XML unquoted. */
static bool format_is_convertible(const char *f) {
        static const char *const known[] = { "qcow2", "qcow", "vmdk", "vdi", "vhdx", "vpc", "qed" };
        for (size_t i = 0; f && i < ELEMENTSOF(known); i++)
                if (streq(f, known[i]))
                        return true;
        return false;
}

/* Steps 2 to 3b for one disk: copied data only (holes cross as holes),
 * read back at the target for the same digest, and converted to raw when
 * it is of another format. Leaves the raw target volume named by
 * resource_id; what it made is the rollback's to remove. */
static int copy_disk(virConnectPtr svc, virConnectPtr tvc, const MigrateSpec *spec, const char *source_volume,
                     const char *source_format, const char *resource_id, CopyState *cs,
                     MigrateDiskResult *res, CbError *err) {
        _cleanup_(volp) virStorageVolPtr sv = NULL, tv = NULL, cv = NULL;
        _cleanup_(streamp) virStreamPtr up = NULL;
        _cleanup_(mdp) EVP_MD_CTX *smd = EVP_MD_CTX_new(), *tmd = EVP_MD_CTX_new();
        virStorageVolInfo info;
        bool convert = !format_is_raw(source_format);
        int r;

        if (!smd || !tmd)
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        if (convert && !format_is_convertible(source_format))
                return cb_error_set(err, CB_ERR_UNSUPPORTED,
                                    "the source disk's format '%s' cannot be converted", source_format);
        cs->step = MIGRATE_STEP_COPY;
        cs->done = 0;
        cs->data0 = cs->data;
        sv = volume_of(svc, source_volume);
        if (!sv)
                return lv_error(err, "cannot find the source disk's volume");
        if (virStorageVolGetInfo(sv, &info) < 0)
                return lv_error(err, "cannot read the source volume");
        cs->total = info.capacity;
        if (convert) {
                /* Its file crosses, not its virtual size: the bar counts the file. */
                virStorageVolInfo phys;
                if (virStorageVolGetInfoFlags(sv, &phys, VIR_STORAGE_VOL_GET_PHYSICAL) == 0)
                        cs->total = phys.allocation;
                else
                        virResetLastError();
        }
        report(cs, true);
        /* A volume an interrupted attempt left is replaced: the copy starts over. */
        _cleanup_(freep) char *scratch = NULL;
        if (scratch_name(resource_id, &scratch) < 0)
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        if (delete_volume(tvc, spec->target.pool, resource_id, err) < 0 ||
            delete_named_volume(tvc, spec->target.pool, scratch, err) < 0 ||
            !(tv = target_volume(tvc, spec->target.pool, resource_id, source_format, info.capacity, true,
                                 convert, NULL, err)))
                return -EIO;
        up = virStreamNew(tvc, 0);
        if (!up || virStorageVolUpload(tv, up, 0, 0, VIR_STORAGE_VOL_UPLOAD_SPARSE_STREAM) < 0)
                return lv_error(err, "cannot upload to the target volume");
        EVP_DigestInit_ex(smd, EVP_sha256(), NULL);
        uint64_t data0 = cs->data;
        r = stream_volume(svc, sv, up, smd, cs, err);
        if (r < 0) {
                virStreamAbort(up);
                return r;
        }
        if (virStreamFinish(up) < 0)
                return lv_error(err, "cannot finish writing the target volume");
        res->capacity_bytes = info.capacity;
        res->data_bytes = cs->data - data0;
        md_hex(smd, res->source_sha256);
        report(cs, true);

        /* 3. The target read back: the same digest, or no move. */
        uint64_t sent = cs->done; /* a raw disk streams its capacity; another format its file */
        cs->step = MIGRATE_STEP_VERIFY_COPY;
        cs->done = 0;
        report(cs, true);
        CopyState vs = { .spec = &(MigrateSpec){ 0 } };
        EVP_DigestInit_ex(tmd, EVP_sha256(), NULL);
        if ((r = stream_volume(tvc, tv, NULL, tmd, &vs, err)) < 0)
                return r;
        md_hex(tmd, res->target_sha256);
        uint64_t streamed = convert ? sent : info.capacity;
        cs->done = cs->total;
        if (!streq(res->source_sha256, res->target_sha256) || vs.done != streamed)
                return cb_error_set(err, CB_ERR_INTERNAL,
                                    "the copy of %s differs from the source (sha256 %s, source %s; %" PRIu64
                                    " of %" PRIu64 " bytes)",
                                    source_volume, res->target_sha256, res->source_sha256, vs.done, streamed);

        /* 3b. Another format becomes the raw target volume on the target host
         * (libvirt runs qemu-img convert); the scratch copy goes. The digests
         * above hold the file that crossed; the guest-visible content is
         * qemu-img's to keep. */
        if (convert) {
                cs->step = MIGRATE_STEP_CONVERT;
                report(cs, true);
                cv = tv;
                tv = target_volume(tvc, spec->target.pool, resource_id, source_format, info.capacity, true,
                                   false, cv, err);
                if (!tv)
                        return -EIO;
                if (virStorageVolDelete(cv, 0) < 0)
                        return lv_error(err, "cannot delete the scratch copy of the disk");
        }
        return 0;
}

/* Removes what a move made at the target (its domain, by the stamp, and
 * its volume) and starts the source again when it ran before. The target
 * goes first: both never run at once. Absent is success. */
static int lv_migrate_rollback(DriverConn *src, DriverConn *dst, const MigrateSpec *spec, CbError *err) {
        _cleanup_(connp) virConnectPtr svc = NULL, tvc = NULL;
        _cleanup_(domp) virDomainPtr d = NULL, sd = NULL;
        const DriverRef ref = { .resource_id = spec->target.resource_id, .pool = spec->target.pool };
        int r;

        if ((r = acquire(lc_of(dst), &tvc, err)) < 0)
                return r;
        r = find_domain(tvc, &ref, &d, err);
        if (r == 0) {
                if ((r = force_off(d, err)) < 0 || (r = undefine(d, err)) < 0)
                        return r;
        } else if (r != -ENOENT)
                return r;
        cb_error_clear(err);
        for (size_t i = 0; i <= spec->n_extra && i < MIGRATE_DISKS_MAX; i++) {
                const char *rid = i == 0 ? spec->target.resource_id : spec->extra[i - 1].resource_id;
                _cleanup_(freep) char *scratch = NULL;
                if ((r = delete_volume(tvc, spec->target.pool, rid, err)) < 0)
                        return r;
                if (scratch_name(rid, &scratch) < 0)
                        return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
                if ((r = delete_named_volume(tvc, spec->target.pool, scratch, err)) < 0)
                        return r;
        }
        if (!spec->source_was_running || !spec->source_domain)
                return 0;
        if ((r = acquire(lc_of(src), &svc, err)) < 0)
                return r;
        sd = virDomainLookupByName(svc, spec->source_domain);
        if (!sd)
                return lv_error(err, "cannot look the source domain up");
        return ensure_running(sd, err);
}

static int lv_migrate_vm(DriverConn *src, DriverConn *dst, const MigrateSpec *spec, MigrateResult *ret,
                         CbError *err) {
        LibvirtConn *tlc = lc_of(dst);
        _cleanup_(connp) virConnectPtr svc = NULL, tvc = NULL;
        _cleanup_(domp) virDomainPtr sd = NULL, td = NULL;
        _cleanup_(freep) char *xml = NULL;
        MigrateResult res = { 0 };
        CopyState cs = { .spec = spec, .started_ms = now_ms() };
        int r, state, reason;

        if ((r = provision_spec_validate(&spec->target, err)) < 0)
                return r;
        if (spec->n_extra >= MIGRATE_DISKS_MAX)
                return cb_error_set(err, CB_ERR_UNSUPPORTED, "a VM of %zu disks: at most %d are moved",
                                    spec->n_extra + 1, MIGRATE_DISKS_MAX);
        for (size_t i = 0; i < spec->n_extra; i++)
                if (!driver_resource_id_is_valid(spec->extra[i].resource_id))
                        return cb_error_set_field(err, CB_ERR_VALIDATION, "extra.resource_id",
                                                  "disk %zu: its volume's resource id is not valid", i + 2);
        /* Refused before the source stops, not after its copy. */
        for (size_t i = 0; i <= spec->n_extra; i++) {
                const char *f = i == 0 ? spec->source_format : spec->extra[i - 1].source_format;
                if (!format_is_raw(f) && !format_is_convertible(f))
                        return cb_error_set(err, CB_ERR_UNSUPPORTED,
                                            "the source disk's format '%s' cannot be converted", f);
        }
        if ((r = acquire(lc_of(src), &svc, err)) < 0 || (r = acquire(tlc, &tvc, err)) < 0)
                return r;

        /* 1. The source, shut down gracefully, then forced; an image source has no domain. */
        cs.step = MIGRATE_STEP_SHUTDOWN;
        report(&cs, true);
        sd = spec->source_domain ? virDomainLookupByName(svc, spec->source_domain) : NULL;
        if (spec->source_domain && !sd)
                return lv_error(err, "cannot look the source domain up");
        if (sd && virDomainIsActive(sd) == 1) {
                if (virDomainShutdown(sd) < 0)
                        virResetLastError();
                uint64_t deadline = now_ms() + spec->stop_timeout_ms;
                while (virDomainIsActive(sd) == 1 && now_ms() < deadline && !driver_waits_cancelled())
                        nanosleep(&(struct timespec){ .tv_nsec = 100 * 1000000L }, NULL);
                if (virDomainIsActive(sd) == 1 && (r = force_off(sd, err)) < 0)
                        goto rollback;
        }

        /* 2-3b. Each disk, in the source's order: the system disk, then the others. */
        MigrateDiskResult first = { 0 };
        if ((r = copy_disk(svc, tvc, spec, spec->source_volume, spec->source_format, spec->target.resource_id,
                           &cs, &first, err)) < 0)
                goto rollback;
        res.capacity_bytes = first.capacity_bytes;
        res.data_bytes = first.data_bytes;
        memcpy(res.source_sha256, first.source_sha256, sizeof(res.source_sha256));
        memcpy(res.target_sha256, first.target_sha256, sizeof(res.target_sha256));
        for (size_t i = 0; i < spec->n_extra; i++) {
                const MigrateDisk *d = &spec->extra[i];
                cs.disk = i + 1;
                if ((r = copy_disk(svc, tvc, spec, d->source_volume, d->source_format, d->resource_id, &cs,
                                   &res.extra[i], err)) < 0)
                        goto rollback;
        }

        /* 4. The target from the plan, stamped, with the source's MAC. */
        cs.step = MIGRATE_STEP_DEFINE;
        report(&cs, true);
        const char *type = domain_type_for(tlc, spec->target.arch, spec->target.domain_type);
        if (!type) {
                r = cb_error_set_field(err, CB_ERR_UNPROCESSABLE, "domain_type",
                                       "the target host offers no domain type for the VM");
                goto rollback;
        }
        ProvisionSpec t = spec->target;
        t.disk_gib = t.disk_gib ? t.disk_gib : 1; /* the volume exists: this only puts the disk in */
        if ((r = libvirt_xml_domain(&t, type, &xml, err)) < 0)
                goto rollback;
        /* The other disks after the system disk, in order, with the source's names. */
        for (size_t i = 0; i < spec->n_extra; i++) {
                _cleanup_(freep) char *disk = NULL, *with = NULL;
                if ((r = libvirt_xml_moved_disk(spec->target.pool, spec->extra[i].resource_id,
                                                spec->extra[i].dev, &disk, err)) < 0)
                        goto rollback;
                if (libvirt_xml_add_device(xml, disk, &with) < 0) {
                        r = cb_error_set(err, CB_ERR_INTERNAL, "cannot add disk %s to the target",
                                         spec->extra[i].dev);
                        goto rollback;
                }
                free(xml);
                xml = TAKE_PTR(with);
        }
        td = virDomainDefineXML(tvc, xml);
        if (!td) {
                r = lv_error(err, "cannot define the target domain");
                goto rollback;
        }

        /* 5. Started, and still running a moment later. */
        cs.step = MIGRATE_STEP_START;
        report(&cs, true);
        if ((r = ensure_running(td, err)) < 0)
                goto rollback;
        nanosleep(&(struct timespec){ .tv_nsec = 500 * 1000000L }, NULL);
        if (virDomainGetState(td, &state, &reason, 0) < 0 || state != VIR_DOMAIN_RUNNING) {
                r = cb_error_set(err, CB_ERR_INTERNAL, "the target domain does not stay running");
                goto rollback;
        }
        if ((r = uuid_of(td, &res.provider_ref, err)) < 0)
                goto rollback;
        cs.step = MIGRATE_STEP_DONE;
        report(&cs, true);
        *ret = res;
        return 0;

rollback:
        if (r >= 0)
                r = -EIO;
        cs.step = MIGRATE_STEP_ROLLBACK;
        report(&cs, true);
        if (td) {
                if (force_off(td, NULL) < 0 || undefine(td, NULL) < 0)
                        virResetLastError();
        }
        /* Keep the first error; the rollback's own failure is logged by the caller's retry. */
        CbError rerr = CB_ERROR_INIT;
        if (lv_migrate_rollback(src, dst, spec, &rerr) < 0)
                virResetLastError();
        cb_error_clear(&rerr);
        migrate_result_done(&res);
        return r;
}

/* --- OS images: an upload into the image pool ------------------------------- */

/* Reads exactly size bytes of fd into the new volume, digesting them; the
 * test driver (no upload) gets them at the volume's path. */
static int upload_from_fd(LibvirtConn *lc, virConnectPtr vc, virStorageVolPtr vol, int fd, uint64_t size,
                          DigestCtx *d, CbError *err) {
        _cleanup_(freep) char *buf = malloc(IMAGE_CHUNK);
        virStreamPtr st = NULL;
        FILE *local = NULL;
        uint64_t done = 0;
        int r = 0;

        if (!buf)
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        st = virStreamNew(vc, 0);
        if (!st)
                return lv_error(err, "cannot open a stream");
        if (virStorageVolUpload(vol, st, 0, size, 0) < 0) {
                bool test = last_code() == VIR_ERR_NO_SUPPORT && strncmp(lc->uri, "test:", 5) == 0;
                virStreamFree(st);
                st = NULL;
                if (!test)
                        return lv_error(err, "cannot upload the image");
                virResetLastError();
                _cleanup_(freep) char *path = virStorageVolGetPath(vol);
                local = path ? fopen(path, "we") : NULL;
                if (!local)
                        return cb_error_set(err, CB_ERR_UNPROCESSABLE, "cannot write volume %s",
                                            path ? path : "?");
        }
        while (r == 0 && done < size) {
                size_t want = size - done < IMAGE_CHUNK ? (size_t)(size - done) : IMAGE_CHUNK;
                ssize_t n = read(fd, buf, want);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0) {
                        r = cb_error_set_field(err, CB_ERR_VALIDATION, "size",
                                               "size: the data ended after %llu of %llu bytes",
                                               (unsigned long long)done, (unsigned long long)size);
                        break;
                }
                if (digest_update(d, buf, (size_t)n) < 0)
                        r = cb_error_set(err, CB_ERR_INTERNAL, "cannot digest the image");
                else if (local && fwrite(buf, 1, (size_t)n, local) != (size_t)n)
                        r = cb_error_set(err, CB_ERR_UNPROCESSABLE, "cannot write the image");
                else if (st) {
                        for (ssize_t off = 0; r == 0 && off < n;) {
                                int m = virStreamSend(st, buf + off, (size_t)(n - off));
                                if (m <= 0)
                                        r = lv_error(err, "cannot upload the image");
                                else
                                        off += m;
                        }
                }
                done += (uint64_t)n;
                if (r == 0 && driver_waits_cancelled())
                        r = cb_error_set(err, CB_ERR_UNAVAILABLE, "cancelled: the daemon is stopping");
        }
        if (st) {
                if (r == 0 && virStreamFinish(st) < 0)
                        r = lv_error(err, "cannot finish the upload");
                else if (r < 0)
                        virStreamAbort(st);
                virStreamFree(st);
        }
        if (local && fclose(local) != 0 && r == 0)
                r = cb_error_set(err, CB_ERR_UNPROCESSABLE, "cannot write the image");
        return r;
}

static int lv_image_upload(DriverConn *c, const char *pool_name, const char *volume, const char *format,
                           int fd, uint64_t size, const char *alg, const char *expected, DriverImageInfo *ret,
                           CbError *err) {
        LibvirtConn *lc = lc_of(c);
        _cleanup_(connp) virConnectPtr vc = NULL;
        _cleanup_(poolp) virStoragePoolPtr pool = NULL;
        _cleanup_(volp) virStorageVolPtr vol = NULL;
        _cleanup_(freep) char *xml = NULL;
        DriverImageInfo info = { 0 };
        virStorageVolInfo vi;
        DigestCtx *d;
        int r;

        if ((r = acquire(lc, &vc, err)) < 0)
                return r;
        pool = virStoragePoolLookupByName(vc, pool_name);
        if (!pool) {
                if (last_code() == VIR_ERR_NO_STORAGE_POOL) {
                        virResetLastError();
                        return cb_error_set_field(err, CB_ERR_NOT_FOUND, "pool",
                                                  "pool: the provider has no storage pool '%s'", pool_name);
                }
                return lv_error(err, "cannot look up storage pool");
        }
        vol = virStorageVolLookupByName(pool, volume);
        if (vol)
                return cb_error_set_field(err, CB_ERR_CONFLICT, "volume",
                                          "volume: pool '%s' already has '%s'", pool_name, volume);
        virResetLastError();
        if (libvirt_xml_image_volume(volume, size, format, &xml) < 0)
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        vol = virStorageVolCreateXML(pool, xml, 0);
        if (!vol)
                return lv_error(err, "cannot create the image's volume");
        d = digest_begin(alg);
        if (!d)
                r = cb_error_set(err, CB_ERR_INTERNAL, "cannot start a %s digest", alg);
        else {
                r = upload_from_fd(lc, vc, vol, fd, size, d, err);
                if (r < 0)
                        digest_free(d);
                else if (digest_end_hex(d, info.digest) < 0)
                        r = cb_error_set(err, CB_ERR_INTERNAL, "cannot finish the digest");
        }
        if (r == 0 && !digest_equal_ct(info.digest, expected))
                r = cb_error_set_field(err, CB_ERR_VALIDATION, "digest",
                                       "digest: the data has %s:%s, not the digest given", alg, info.digest);
        if (r < 0) {
                /* Nothing half-made stays in the image pool. */
                if (virStorageVolDelete(vol, 0) < 0)
                        virResetLastError();
                return r;
        }
        snprintf(info.format, sizeof(info.format), "%s", format);
        info.read_bytes = size;
        info.capacity_bytes = virStorageVolGetInfo(vol, &vi) == 0 && vi.capacity > size ? vi.capacity : size;
        virResetLastError();
        *ret = info;
        return 0;
}

/* The log is libvirt's (virtlogd writes it on the host of the broker's
 * libvirtd, which is this host for qemu:///system): read only its tail,
 * with one pread, so a chatty guest costs no more than max_bytes. */
static int lv_console_tail(DriverConn *c, const DriverRef *ref, size_t max_bytes, char **ret, size_t *ret_len,
                           bool *ret_truncated, CbError *err) {
        _cleanup_(connp) virConnectPtr vc = NULL;
        _cleanup_(domp) virDomainPtr d = NULL;
        _cleanup_(freep) char *xml = NULL, *path = NULL, *buf = NULL;
        _cleanup_(closep) int fd = -1;
        struct stat st;
        int r;

        if ((r = acquire(lc_of(c), &vc, err)) < 0 || (r = find_domain(vc, ref, &d, err)) < 0)
                return r;
        xml = virDomainGetXMLDesc(d, 0);
        if (!xml)
                return lv_error(err, "cannot read domain XML");
        r = libvirt_xml_console_log(xml, &path);
        if (r == -ENOENT)
                return cb_error_set(err, CB_ERR_UNSUPPORTED, "domain %s logs no serial console",
                                    virDomainGetName(d));
        if (r < 0)
                return cb_error_set(err, CB_ERR_INTERNAL, "cannot read the console log of domain %s",
                                    virDomainGetName(d));
        fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
        if (fd < 0 && errno == ENOENT) { /* never started yet: nothing printed */
                buf = malloc(1);
                if (!buf)
                        return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
                *ret = TAKE_PTR(buf);
                *ret_len = 0;
                *ret_truncated = false;
                return 0;
        }
        if (fd < 0 || fstat(fd, &st) < 0)
                return cb_error_set(err, CB_ERR_UNAVAILABLE, "cannot read console log %s: %s", path,
                                    strerror(errno));
        if (!S_ISREG(st.st_mode))
                return cb_error_set(err, CB_ERR_INTERNAL, "console log %s is not a file", path);
        uint64_t size = (uint64_t)st.st_size;
        size_t want = size < max_bytes ? (size_t)size : max_bytes;
        buf = malloc(want + 1);
        if (!buf)
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        ssize_t n = want ? pread(fd, buf, want, (off_t)(size - want)) : 0;
        if (n < 0)
                return cb_error_set(err, CB_ERR_UNAVAILABLE, "cannot read console log %s: %s", path,
                                    strerror(errno));
        *ret = TAKE_PTR(buf);
        *ret_len = (size_t)n;
        *ret_truncated = size > want;
        return 0;
}

static const char *addr_type(int t) {
        return t == VIR_IP_ADDR_TYPE_IPV4 ? "ipv4" : t == VIR_IP_ADDR_TYPE_IPV6 ? "ipv6" : "unknown";
}

/* The interfaces libvirt reports from one source, as JSON (NULL: out of memory). */
static json_t *ifaces_to_json(virDomainInterfacePtr *ifaces, int n) {
        json_t *list = json_array();
        for (int i = 0; i < n; i++) {
                json_t *addrs = json_array();
                for (unsigned k = 0; ifaces[i]->addrs && k < ifaces[i]->naddrs; k++)
                        json_array_append_new(addrs, json_pack("{s:s, s:s?, s:i}", "type",
                                                               addr_type(ifaces[i]->addrs[k].type), "address",
                                                               ifaces[i]->addrs[k].addr, "prefix",
                                                               (int)ifaces[i]->addrs[k].prefix));
                json_array_append_new(list, json_pack("{s:s?, s:s?, s:o}", "name", ifaces[i]->name, "mac",
                                                      ifaces[i]->hwaddr, "addresses", addrs));
                virDomainInterfaceFree(ifaces[i]);
        }
        free(ifaces);
        return list;
}

static int lv_addresses(DriverConn *c, const DriverRef *ref, json_t **ret, CbError *err) {
        _cleanup_(connp) virConnectPtr vc = NULL;
        _cleanup_(domp) virDomainPtr d = NULL;
        virDomainInterfacePtr *ifaces = NULL;
        json_t *list;
        int r, n;

        if ((r = acquire(lc_of(c), &vc, err)) < 0 || (r = find_domain(vc, ref, &d, err)) < 0)
                return r;
        if (virDomainIsActive(d) != 1) { /* a stopped VM holds no lease */
                *ret = json_array();
                return *ret ? 0 : cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        }
        /* The guest agent knows every address the guest has (static ones
         * too); when it answers with any, it is the source. Without an
         * agent (not installed, not connected: libvirt says so at once)
         * the network's DHCP leases are. */
        n = virDomainInterfaceAddresses(d, &ifaces, VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_AGENT, 0);
        if (n >= 0) {
                json_t *all = ifaces_to_json(ifaces, n);
                list = all ? libvirt_agent_addresses(all) : NULL;
                json_decref(all);
                if (list) {
                        *ret = list;
                        return 0;
                }
        } else
                virResetLastError();
        ifaces = NULL;
        n = virDomainInterfaceAddresses(d, &ifaces, VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_LEASE, 0);
        if (n < 0)
                return lv_error(err, "cannot read the domain's addresses");
        list = ifaces_to_json(ifaces, n);
        if (!list)
                return cb_error_set(err, CB_ERR_INTERNAL, "out of memory");
        *ret = list;
        return 0;
}

const DriverOps libvirt_driver_ops = {
        .name = "libvirt",
        .global_init = lv_global_init,
        .global_shutdown = lv_global_shutdown,
        .open = lv_open,
        .close = lv_close,
        .ping = lv_ping,
        .inventory = lv_inventory,
        .lookup = lv_lookup,
        .provision = lv_provision,
        .start = lv_start,
        .stop = lv_stop,
        .reboot = lv_reboot,
        .deprovision = lv_deprovision,
        .attach_volume = lv_attach_volume,
        .resize = lv_resize,
        .capacity = lv_capacity,
        .assess_domain = lv_assess_domain,
        .assess_image = lv_assess_image,
        .adopt_domain = lv_adopt_domain,
        .undefine_source = lv_undefine_source,
        .migrate_vm = lv_migrate_vm,
        .migrate_rollback = lv_migrate_rollback,
        .image_inspect = lv_image_inspect,
        .image_upload = lv_image_upload,
        .watch_events = lv_watch_events,
        .console_tail = lv_console_tail,
        .addresses = lv_addresses,
};
