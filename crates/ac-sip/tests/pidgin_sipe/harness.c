/*
 * Headless libpurple driver for the pidgin-sipe cross-check of the Skype for Business
 * server double (tests/sipe_pidgin.rs). Our own code against the public libpurple 2 API:
 * a GLib main loop as libpurple's event loop, no UI except an automatic "accept" for the
 * certificate question (the double's certificate comes from a test CA), and one SIPE
 * account signing in with NTLM over TLS.
 *
 * Usage: harness USERDIR SERVER:PORT SIGNIN LOGIN PASSWORD SECONDS
 * Prints "STATE connected" once libpurple reports the account signed on (exit 0), or
 * "ERROR <text>" on a connection error or timeout (exit 1).
 */
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <purple.h>

#define UI_ID "ac-sip-test"

static GMainLoop *loop;
static int result = 1;

/* ---- event loop: libpurple's sources on GLib ---- */

struct io_closure {
	PurpleInputFunction function;
	gpointer data;
	guint result;
};

static void io_destroy(gpointer data) { g_free(data); }

static gboolean io_invoke(GIOChannel *source, GIOCondition condition, gpointer data)
{
	struct io_closure *c = data;
	PurpleInputCondition cond = 0;
	if (condition & (G_IO_IN | G_IO_HUP | G_IO_ERR))
		cond |= PURPLE_INPUT_READ;
	if (condition & (G_IO_OUT | G_IO_HUP | G_IO_ERR | G_IO_NVAL))
		cond |= PURPLE_INPUT_WRITE;
	c->function(c->data, g_io_channel_unix_get_fd(source), cond);
	return TRUE;
}

static guint input_add(gint fd, PurpleInputCondition condition, PurpleInputFunction function,
		       gpointer data)
{
	struct io_closure *c = g_new0(struct io_closure, 1);
	GIOCondition cond = 0;
	GIOChannel *channel;
	c->function = function;
	c->data = data;
	if (condition & PURPLE_INPUT_READ)
		cond |= G_IO_IN | G_IO_HUP | G_IO_ERR;
	if (condition & PURPLE_INPUT_WRITE)
		cond |= G_IO_OUT | G_IO_HUP | G_IO_ERR | G_IO_NVAL;
	channel = g_io_channel_unix_new(fd);
	c->result = g_io_add_watch_full(channel, G_PRIORITY_DEFAULT, cond, io_invoke, c,
					io_destroy);
	g_io_channel_unref(channel);
	return c->result;
}

static PurpleEventLoopUiOps loop_ops = {
	.timeout_add = g_timeout_add,
	.timeout_remove = g_source_remove,
	.input_add = input_add,
	.input_remove = g_source_remove,
	.timeout_add_seconds = g_timeout_add_seconds,
};

/* ---- requests: accept the certificate question, nothing else is asked ---- */

static void *request_action(const char *title, const char *primary, const char *secondary,
			    int default_action, PurpleAccount *account, const char *who,
			    PurpleConversation *conv, void *user_data, size_t action_count,
			    va_list actions)
{
	/* The first action of libpurple's certificate question is "Accept". */
	if (action_count > 0) {
		const char *label = va_arg(actions, const char *);
		GCallback cb = va_arg(actions, GCallback);
		fprintf(stderr, "request: %s / %s -> %s\n", title ? title : "",
			primary ? primary : "", label ? label : "");
		if (cb)
			((PurpleRequestActionCb)cb)(user_data, 0);
	}
	return NULL;
}

static PurpleRequestUiOps request_ops = {.request_action = request_action};

/* ---- signals ---- */

static void signed_on(PurpleConnection *gc, gpointer data)
{
	printf("STATE connected\n");
	fflush(stdout);
	result = 0;
	g_main_loop_quit(loop);
}

static void connection_error(PurpleConnection *gc, PurpleConnectionError err,
			     const gchar *desc, gpointer data)
{
	printf("ERROR %d %s\n", (int)err, desc ? desc : "");
	fflush(stdout);
	result = 1;
	g_main_loop_quit(loop);
}

static gboolean give_up(gpointer data)
{
	printf("ERROR timeout\n");
	fflush(stdout);
	g_main_loop_quit(loop);
	return FALSE;
}

static void debug_print(PurpleDebugLevel level, const char *category, const char *arg_s)
{
	fprintf(stderr, "%s: %s", category ? category : "", arg_s);
}

static gboolean debug_enabled(PurpleDebugLevel level, const char *category) { return TRUE; }

static PurpleDebugUiOps debug_ops = {.print = debug_print, .is_enabled = debug_enabled};

static PurpleCoreUiOps core_ops = {NULL};

int main(int argc, char **argv)
{
	PurpleAccount *account;
	PurpleSavedStatus *status;
	static int handle;

	if (argc != 7) {
		fprintf(stderr, "usage: %s USERDIR SERVER:PORT SIGNIN LOGIN PASSWORD SECONDS\n",
			argv[0]);
		return 2;
	}
	loop = g_main_loop_new(NULL, FALSE);
	purple_util_set_user_dir(argv[1]);
	purple_debug_set_enabled(TRUE);
	purple_debug_set_ui_ops(&debug_ops);
	purple_core_set_ui_ops(&core_ops);
	purple_eventloop_set_ui_ops(&loop_ops);
	purple_request_set_ui_ops(&request_ops);
	if (!purple_core_init(UI_ID)) {
		printf("ERROR libpurple did not initialise\n");
		return 1;
	}
	purple_set_blist(purple_blist_new());
	purple_blist_load();
	purple_plugins_load_saved("/purple/" UI_ID "/plugins/saved");

	{
		/* pidgin-sipe's account name: "sign-in address,DOMAIN\\user". */
		gchar *name = g_strdup_printf("%s,%s", argv[3], argv[4]);
		account = purple_account_new(name, "prpl-sipe");
		g_free(name);
	}
	purple_account_set_password(account, argv[5]);
	purple_account_set_string(account, "server", argv[2]);
	purple_account_set_string(account, "transport", "tls");
	purple_account_set_string(account, "authentication", "ntlm");
	purple_account_set_bool(account, "sso", FALSE);
	purple_accounts_add(account);

	purple_signal_connect(purple_connections_get_handle(), "signed-on", &handle,
			      PURPLE_CALLBACK(signed_on), NULL);
	purple_signal_connect(purple_connections_get_handle(), "connection-error", &handle,
			      PURPLE_CALLBACK(connection_error), NULL);
	g_timeout_add_seconds(atoi(argv[6]), give_up, NULL);

	purple_account_set_enabled(account, UI_ID, TRUE);
	status = purple_savedstatus_new(NULL, PURPLE_STATUS_AVAILABLE);
	purple_savedstatus_activate(status);

	g_main_loop_run(loop);
	return result;
}
