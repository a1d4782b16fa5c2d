//! The activity log follows the newest entries, as a log viewer does, until the user moves
//! the selection away from the top; then it stays where the user is and counts the entries
//! that arrived above (`↑ 3 new`), until the user goes back to the top.

use super::data::ActivityRow;
use super::state::State;

/// New rows arrived: keep to the top when following, else keep the selected row and count
/// what is newer than where the user left the top.
pub(crate) fn on_rows(state: &mut State, rows: Vec<ActivityRow>) {
    let selected = state
        .visible_activity()
        .get(state.activity_selected)
        .map(|r| r.key());
    state.activity = rows;
    let visible = state.visible_activity();
    let last = visible.len().saturating_sub(1);
    let Some(anchor) = &state.activity_anchor else {
        state.activity_selected = 0;
        state.activity_new = 0;
        return;
    };
    let new = visible
        .iter()
        .position(|r| r.key() == *anchor)
        .map_or(0, |at| {
            visible[..at].iter().filter(|r| r.is_entry()).count()
        });
    let at = selected
        .and_then(|k| visible.iter().position(|r| r.key() == k))
        .unwrap_or(0)
        .min(last);
    state.activity_new = new;
    state.activity_selected = at;
    if at == 0 {
        // the selected row went, or the user was already at the newest: follow again
        state.activity_anchor = None;
        state.activity_new = 0;
    }
}

/// The user moved the activity log's selection: at the top it follows again; away from it,
/// the newest entry there now is where the count of new ones starts.
pub(crate) fn on_moved(state: &mut State) {
    if state.activity_selected == 0 {
        state.activity_anchor = None;
        state.activity_new = 0;
    } else if state.activity_anchor.is_none() {
        state.activity_anchor = state
            .visible_activity()
            .iter()
            .find(|r| r.is_entry())
            .map(|r| r.key());
        state.activity_new = 0;
    }
}
