# EKS access entries of cluster staging, written by aws-auth-migrate from
#   testdata/examples/fleet/staging.yaml (offline plan).
# 2 access entries, 1 policy association; 2 mappings stay in aws-auth.
# Review it like any change of who may use the cluster. The tool's created-by tag is never written
#   here.
#
# Offline plan, so no imports: EKS makes node, Fargate and cluster-creator entries itself at the
#   switch to API_AND_CONFIG_MAP, and creating them again fails with ResourceInUseException. Switch
#   the mode first, then write this again from the live cluster:
#   aws-auth-migrate migrate --cluster staging --to dual   # or the authentication mode in your IaC
#   aws-auth-migrate plan --cluster staging -o terraform-module
#
# Then, once applied:
#   aws-auth-migrate verify --cluster staging            # parity, recorded for the api gate
#   aws-auth-migrate migrate --cluster staging --to api --confirm staging
# and then say API in the IaC's authentication mode too: EKS refuses any way back, so an apply that
#   still says API_AND_CONFIG_MAP fails.
#
# Mappings that stay in aws-auth (no access entry; the switch to API cuts them off unless resolved
#   or named with --allow-drop):
#   mapRoles[1] arn:aws:iam::111122223333:role/AWSServiceRoleForAmazonEMRContainers
#     blocker service-linked-role:
#       `arn:aws:iam::111122223333:role/AWSServiceRoleForAmazonEMRContainers` is a service-linked
#       role, which EKS refuses for access entries; it stays in aws-auth and the switch to API would
#       cut it off (the owning service may offer its own access-entry integration)
#   mapAccounts[0] 444455556666
#     blocker map-accounts: mapAccounts admits every IAM principal of account 444455556666 (username
#       = its IAM ARN, no groups); access entries name one principal each, so list the principals
#       that use this cluster and map them, or accept that they lose access at the switch to API
#
# For the terraform-aws-eks module block `module "eks"`: set access_entries =
#   local.eks_access_entries and enable_cluster_creator_admin_permissions = false (an entry the
#   cluster creator has is declared here like any other). Needs Terraform 1.5 or later (import
#   blocks).

locals {
  eks_access_entries = {
    # mapRoles[0] in aws-auth
    eks_staging_nodes = {
      principal_arn = "arn:aws:iam::111122223333:role/eks-staging-nodes"
      type          = "EC2_LINUX"
    }

    # mapRoles[2] in aws-auth
    platform = {
      principal_arn = "arn:aws:iam::111122223333:role/platform"
      type          = "STANDARD"
      user_name     = "platform"

      policy_associations = {
        cluster_admin = {
          policy_arn = "arn:aws:eks::aws:cluster-access-policy/AmazonEKSClusterAdminPolicy"

          access_scope = {
            type = "cluster"
          }
        }
      }
    }
  }
}
