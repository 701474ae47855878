//! The menu's pages, kept a few seconds in the products function's memory.
//!
//! Every kiosk session of the chain browses the menu, and the menu is one
//! partition of the `menu` index (`menu_pk = "MENU"`): uncached, the chain's
//! menu reads would all land there (a partition serves 3,000 reads a second).
//! A warm function answers a page it read less than `MENU_CACHE_SECONDS` ago
//! (default 5) from memory, so the partition sees about one read per page per
//! warm instance every few seconds, whatever the number of kiosks.
//!
//! What is cached is the chain's menu only. What a store has sold out comes
//! from the store's own record, read on every request, so selling out shows
//! at once. A menu write clears the instance's pages; other warm instances
//! show it within the lifetime. Checkout never reads this cache: it prices
//! from the products as stored.

use crate::Result;
use crate::domain::ProductId;
use crate::domain::product::{Category, Product};
use crate::store::products::{MenuCursor, ProductStore};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// A page of the menu and the cursor of the next.
pub type MenuPage = (Vec<Product>, Option<MenuCursor>);

/// The most pages kept: `limit` comes from clients, so the number of
/// distinct first pages is theirs to choose; past this many, expired pages
/// are dropped, and if none has expired the new one is not kept. A page
/// after a cursor is kept only if this cache gave that cursor out (the next
/// of a page it holds): a client that makes up cursors (they are not
/// signed) is answered, but fills nothing, so what is kept is at most this
/// many pages of the real menu.
const MAX_PAGES: usize = 256;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct PageKey {
    category: Option<Category>,
    limit: u16,
    after: Option<MenuCursor>,
}

/// The lock of `mutex`. A panic while holding it leaves a map or a slot
/// that is still whole (each is written in one step), so a poisoned lock is
/// taken as it is.
fn locked<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

/// The whole active menu by id.
pub type WholeMenu = Arc<HashMap<ProductId, Product>>;

/// The menu pages one function instance read recently.
pub struct MenuCache {
    lifetime: Duration,
    pages: Mutex<HashMap<PageKey, (Instant, MenuPage)>>,
    /// The whole menu, kept apart from the pages: however many pages
    /// clients ask for, they cannot push it out.
    whole: Mutex<Option<(Instant, WholeMenu)>>,
    /// How many times the menu was cleared: a read that began before a
    /// clear keeps nothing.
    generation: AtomicU64,
}

impl MenuCache {
    /// Pages live `lifetime`; zero keeps none.
    pub fn new(lifetime: Duration) -> Self {
        Self {
            lifetime,
            pages: Mutex::new(HashMap::new()),
            whole: Mutex::new(None),
            generation: AtomicU64::new(0),
        }
    }

    fn whole_slot(&self) -> MutexGuard<'_, Option<(Instant, WholeMenu)>> {
        locked(&self.whole)
    }

    fn pages(&self) -> MutexGuard<'_, HashMap<PageKey, (Instant, MenuPage)>> {
        locked(&self.pages)
    }

    /// The page, from memory if it was read less than the lifetime before
    /// `now`, else from the store (and kept).
    pub async fn page(
        &self,
        products: &ProductStore,
        category: Option<Category>,
        limit: u16,
        after: Option<MenuCursor>,
    ) -> Result<MenuPage> {
        let key = PageKey {
            category,
            limit,
            after,
        };
        let now = Instant::now();
        if let Some(page) = self.fresh(&key, now) {
            return Ok(page);
        }
        let generation = self.generation.load(Ordering::Acquire);
        let page = products.list(category, limit, key.after.clone()).await?;
        if generation == self.generation.load(Ordering::Acquire) {
            self.keep(key, page.clone(), now);
        }
        Ok(page)
    }

    /// The whole active menu by id (what a combo's slots name), from
    /// memory for the lifetime, else page by page through the cache (a
    /// chain's menu is a page or two).
    pub async fn whole(&self, products: &ProductStore) -> Result<WholeMenu> {
        let now = Instant::now();
        if let Some((read_at, menu)) = self.whole_slot().as_ref()
            && now.saturating_duration_since(*read_at) < self.lifetime
        {
            return Ok(Arc::clone(menu));
        }
        let generation = self.generation.load(Ordering::Acquire);
        let mut menu = HashMap::new();
        let mut after = None;
        loop {
            let (page, next) = self
                .page(products, None, crate::http::page::MAX_LIMIT, after)
                .await?;
            menu.extend(page.into_iter().map(|p| (p.id.clone(), p)));
            match next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        let menu = Arc::new(menu);
        self.keep_whole(Arc::clone(&menu), now, generation);
        Ok(menu)
    }

    fn keep_whole(&self, menu: WholeMenu, read_at: Instant, generation: u64) {
        let mut slot = self.whole_slot();
        if !self.lifetime.is_zero() && generation == self.generation.load(Ordering::Acquire) {
            *slot = Some((read_at, menu));
        }
    }

    fn fresh(&self, key: &PageKey, now: Instant) -> Option<MenuPage> {
        let pages = self.pages();
        let (read_at, page) = pages.get(key)?;
        (now.saturating_duration_since(*read_at) < self.lifetime).then(|| page.clone())
    }

    fn keep(&self, key: PageKey, page: MenuPage, read_at: Instant) {
        if self.lifetime.is_zero() {
            return;
        }
        let mut pages = self.pages();
        if let Some(after) = &key.after {
            let given_out = pages.iter().any(|(k, (_, (_, next)))| {
                k.category == key.category && k.limit == key.limit && next.as_ref() == Some(after)
            });
            if !given_out {
                return;
            }
        }
        if pages.len() >= MAX_PAGES && !pages.contains_key(&key) {
            let lifetime = self.lifetime;
            pages.retain(|_, (at, _)| read_at.saturating_duration_since(*at) < lifetime);
            if pages.len() >= MAX_PAGES {
                return;
            }
        }
        pages.insert(key, (read_at, page));
    }

    /// Forgets every page and the whole menu: this instance just changed
    /// the menu (a read begun before keeps nothing).
    pub fn clear(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.pages().clear();
        *self.whole_slot() = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(limit: u16) -> PageKey {
        PageKey {
            category: None,
            limit,
            after: None,
        }
    }

    fn page(name: &str) -> MenuPage {
        let mut product = crate::service::testing::product("p-1", 990, true);
        product.name = name.to_owned();
        (vec![product], None)
    }

    fn name(page: Option<MenuPage>) -> Option<String> {
        page.map(|(products, _)| products[0].name.clone())
    }

    #[test]
    fn a_page_is_answered_from_memory_for_its_lifetime_only() {
        let cache = MenuCache::new(Duration::from_secs(5));
        let t0 = Instant::now();
        assert_eq!(name(cache.fresh(&key(20), t0)), None);
        cache.keep(key(20), page("X-Burger"), t0);
        let later = |s| t0 + Duration::from_secs(s);
        assert_eq!(
            name(cache.fresh(&key(20), later(4))),
            Some("X-Burger".into())
        );
        assert_eq!(name(cache.fresh(&key(20), later(5))), None, "expired");
        assert_eq!(name(cache.fresh(&key(10), later(1))), None, "another page");
        cache.keep(key(20), page("X-Tudo"), later(5));
        assert_eq!(name(cache.fresh(&key(20), later(6))), Some("X-Tudo".into()));
        cache.clear();
        assert_eq!(
            name(cache.fresh(&key(20), later(6))),
            None,
            "cleared by a write"
        );
    }

    #[test]
    fn the_whole_menu_is_kept_apart_from_the_pages_and_cleared_with_them() {
        let cache = MenuCache::new(Duration::from_secs(5));
        let t0 = Instant::now();
        // Clients' pages fill the bound: the whole menu still has its place.
        for limit in 0..(MAX_PAGES as u16) {
            cache.keep(key(limit), page("X"), t0);
        }
        let (products, _) = page("X-Burger");
        let menu: WholeMenu = Arc::new(products.into_iter().map(|p| (p.id.clone(), p)).collect());
        cache.keep_whole(Arc::clone(&menu), t0, 0);
        assert!(cache.whole_slot().is_some());
        // A read begun before a clear keeps nothing.
        cache.clear();
        assert!(cache.whole_slot().is_none());
        cache.keep_whole(menu, t0, 0);
        assert!(cache.whole_slot().is_none());
    }

    #[test]
    fn a_zero_lifetime_keeps_nothing() {
        let cache = MenuCache::new(Duration::ZERO);
        let t0 = Instant::now();
        cache.keep(key(20), page("X-Burger"), t0);
        assert_eq!(name(cache.fresh(&key(20), t0)), None);
    }

    #[test]
    fn a_page_after_a_cursor_is_kept_only_when_the_cache_gave_the_cursor_out() {
        let cache = MenuCache::new(Duration::from_secs(5));
        let t0 = Instant::now();
        let cursor = |id: &str| MenuCursor {
            id: id.to_owned(),
            sk: format!("sandwich#{id}"),
        };
        let after = |id: &str| PageKey {
            after: Some(cursor(id)),
            ..key(1)
        };
        // Made up: answered from the table every time, never kept.
        cache.keep(after("made-up"), page("X"), t0);
        assert_eq!(name(cache.fresh(&after("made-up"), t0)), None);
        // The first page gives out its next: the page after it is kept.
        let (products, _) = page("Primeira");
        cache.keep(key(1), (products, Some(cursor("p-1"))), t0);
        cache.keep(after("p-1"), page("Segunda"), t0);
        assert_eq!(name(cache.fresh(&after("p-1"), t0)), Some("Segunda".into()));
        // The same cursor with another page size was not given out.
        let other_size = PageKey {
            limit: 2,
            ..after("p-1")
        };
        cache.keep(other_size.clone(), page("X"), t0);
        assert_eq!(name(cache.fresh(&other_size, t0)), None);
    }

    #[test]
    fn clients_cannot_grow_it_past_its_bound() {
        let cache = MenuCache::new(Duration::from_secs(5));
        let t0 = Instant::now();
        for limit in 0..(MAX_PAGES as u16 + 50) {
            cache.keep(key(limit), page("X"), t0);
        }
        assert_eq!(cache.pages().len(), MAX_PAGES);
        // Once the kept pages have expired, new ones take their places.
        let later = t0 + Duration::from_secs(5);
        cache.keep(key(9999), page("Y"), later);
        assert_eq!(cache.pages().len(), 1);
        assert_eq!(name(cache.fresh(&key(9999), later)), Some("Y".into()));
    }
}
