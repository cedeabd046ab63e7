/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Owns: the netlink subscription to PCI uevents. */

#include <libudev.h>

#include "log.h"
#include "macro.h"
#include "udev-monitor.h"

struct DeviceMonitor {
        struct udev *udev;
        struct udev_monitor *monitor;
        sd_event_source *source;
        device_event_handler_t handler;
        void *userdata;
};

static int on_monitor_io(sd_event_source *s, int fd, uint32_t revents, void *userdata) {
        DeviceMonitor *m = userdata;

        for (;;) {
                struct udev_device *dev;
                const char *action, *sysname;

                errno = 0;
                dev = udev_monitor_receive_device(m->monitor);
                if (!dev) {
                        if (errno == ENOBUFS) {
                                log_warning("PCI uevents were lost, rescanning.");
                                m->handler(NULL, NULL, m->userdata);
                                continue;
                        }
                        return 0; /* EAGAIN: drained */
                }
                action = udev_device_get_action(dev);
                sysname = udev_device_get_sysname(dev);
                if (action && sysname)
                        m->handler(action, sysname, m->userdata);
                udev_device_unref(dev);
        }
}

/* The "udev" source carries events after systemd-udevd processed them; without udevd (a bare
 * initramfs, a minimal guest) only the kernel's own source delivers anything. */
static const char *monitor_source(void) {
        return access("/run/udev/control", F_OK) >= 0 ? "udev" : "kernel";
}

int device_monitor_start(sd_event *event, device_event_handler_t handler, void *userdata, DeviceMonitor **ret) {
        DeviceMonitor *m;
        const char *source = monitor_source();
        int r;

        m = calloc(1, sizeof(DeviceMonitor));
        if (!m)
                return -ENOMEM;
        m->handler = handler;
        m->userdata = userdata;

        m->udev = udev_new();
        if (!m->udev) {
                r = negative_errno();
                goto fail;
        }
        m->monitor = udev_monitor_new_from_netlink(m->udev, source);
        if (!m->monitor) {
                r = negative_errno();
                goto fail;
        }
        r = udev_monitor_filter_add_match_subsystem_devtype(m->monitor, "pci", NULL);
        if (r < 0)
                goto fail;
        /* Large enough that a burst (a PF creating many VFs) does not overflow it. */
        (void) udev_monitor_set_receive_buffer_size(m->monitor, 8 * 1024 * 1024);
        r = udev_monitor_enable_receiving(m->monitor);
        if (r < 0)
                goto fail;
        r = sd_event_add_io(event, &m->source, udev_monitor_get_fd(m->monitor), EPOLLIN, on_monitor_io, m);
        if (r < 0)
                goto fail;

        log_debug("Listening to PCI uevents from the %s source.", source);
        *ret = m;
        return 0;
fail:
        device_monitor_free(m);
        return log_error_errno(r, "Cannot listen to PCI uevents: %m");
}

DeviceMonitor *device_monitor_free(DeviceMonitor *m) {
        if (!m)
                return NULL;
        sd_event_source_disable_unref(m->source);
        udev_monitor_unref(m->monitor);
        udev_unref(m->udev);
        return mfree(m);
}
