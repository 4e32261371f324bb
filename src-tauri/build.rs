fn main() {
    // Every command the UI may call; each gets an `allow-<name>` permission that the main
    // window's capability lists (capabilities/main.json).
    let commands = &[
        "session_restore",
        "login",
        "logout",
        "get_state",
        "accept_offer",
        "decline_offer",
        "send_message",
        "dismiss_pending",
        "set_typing",
        "end_chat",
        "mark_read",
        "share_calendar",
        "set_availability",
        "list_conversations",
        "get_messages",
        "get_visitor",
        "get_activities",
        "get_transcript",
        "save_transcript",
        "list_calendars",
        "get_slots",
        "get_settings",
        "put_settings",
        "get_preferences",
        "put_preferences",
        "report_startup",
    ];
    tauri_build::try_build(
        tauri_build::Attributes::new()
            .app_manifest(tauri_build::AppManifest::new().commands(commands)),
    )
    .expect("tauri build script");
}
