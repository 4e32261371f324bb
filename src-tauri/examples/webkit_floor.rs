//! The floor of the idle-memory benchmark (issue 5, P1): one GTK window of the app's size with
//! one WebKitGTK web view showing a static page, and nothing else (no Tauri, no engine, no
//! connection), with the WebKit and GDK settings the app makes for itself
//! (`agent_inbox_lib::without_gl_rendering`). bench/app-vs-chromium.mjs reads its process
//! tree's PSS like the app's: what the app costs beyond this is its own.
//!
//! Prints `loaded` on stdout once the page has loaded; runs until it is killed.

#[cfg(target_os = "linux")]
fn main() {
    use gtk::prelude::*;
    use webkit2gtk::{LoadEvent, WebViewExt};

    agent_inbox_lib::without_gl_rendering();
    if let Err(e) = gtk::init() {
        eprintln!("webkit_floor: GTK cannot start: {e}");
        std::process::exit(1);
    }
    let window = gtk::Window::new(gtk::WindowType::Toplevel);
    window.set_title("WebKitGTK floor");
    window.set_default_size(1280, 800);
    let view = webkit2gtk::WebView::new();
    view.connect_load_changed(|_, event| {
        if event == LoadEvent::Finished {
            println!("loaded");
        }
    });
    view.load_html(
        "<!doctype html><meta charset=utf-8><title>floor</title>\
         <p style='font: 14px sans-serif'>A blank WebKitGTK page.</p>",
        None,
    );
    window.add(&view);
    window.connect_destroy(|_| gtk::main_quit());
    window.show_all();
    gtk::main();
}

#[cfg(not(target_os = "linux"))]
fn main() {
    eprintln!("webkit_floor: WebKitGTK runs on Linux only");
}
