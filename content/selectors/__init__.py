"""Reads of the content app, scoped to the caller."""

from content.selectors.comments import comment_get, comment_list, post_for_comment_create
from content.selectors.posts import (
    own_drafts_count,
    own_drafts_first,
    post_count_unfiltered,
    post_for_comments,
    post_get,
    post_list,
    post_relations_attach,
    post_search,
    posts_tagged,
    public_post_detail,
    public_post_get,
    search_is_ranked,
    search_page_shaped,
    tag_names_attach,
)
from content.selectors.uploads import (
    attachments_attach,
    upload_get,
    upload_list,
    upload_visibility,
)
from content.selectors.visibility import parse_uuid, post_visibility

__all__ = [
    "attachments_attach",
    "comment_get",
    "comment_list",
    "own_drafts_count",
    "own_drafts_first",
    "parse_uuid",
    "post_count_unfiltered",
    "post_for_comment_create",
    "post_for_comments",
    "post_get",
    "post_list",
    "post_relations_attach",
    "post_search",
    "post_visibility",
    "posts_tagged",
    "public_post_detail",
    "public_post_get",
    "search_is_ranked",
    "search_page_shaped",
    "tag_names_attach",
    "upload_get",
    "upload_list",
    "upload_visibility",
]
